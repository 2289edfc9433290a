"""Gender and age networks: each pack kind turns faces into network inputs, then runs one batched
forward per network for all faces of an image."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from worker.align import Landmarker, chip_transform, extract_chip, face_frame, landmark_box
from worker.faces import AGE_BUCKETS, FaceAttributes, FaceBox, bucket_label, nearest_bucket_index

# Cydral's networks: RGB chips, (pixel - mean) / 256, per dlib-models' training code.
CYDRAL_MEAN = (122.782, 117.001, 104.298)
CYDRAL_GENDER_SIZE, CYDRAL_AGE_SIZE = 32, 64
# Class k of the age network means k years, except class 0, which dlib-models weights as 0.25.
CYDRAL_AGE_YEARS = np.array([0.25, *range(1, 81)], dtype=np.float64)
# Test-time augmentation: each face is classified on chips cut with dlib's padding (0.2) and a
# tighter one, and the probabilities averaged. On ../shared/eval it cut utkface's age MAE from
# 7.60 to 7.17 years and raised congress gender accuracy from 97.6% to 98.4%, for ~4.5 ms more per
# face; mirrored chips cost 10 ms more per face and made age worse (`python -m bench.ablation`).
CYDRAL_PADDINGS = (0.15, 0.2)
# The networks' ages regress to the mean (children too old, the old too young by ~8 years).
# A monotone map from the age expectation to years, fitted by isotonic regression on utkface
# (exact ages) and sampled every 15 years, linear in between. Fitted on either half of utkface it
# cut the other half's MAE from 7.0-7.3 to 6.6-6.7 years (a linear map: 6.8-7.1), congress's
# from 9.1 to 7.4 and put 74% of congress in range, against 71% for the linear map
# (`python -m bench.calibration`, `python -m bench.accuracy`). Knots every 5 years fit utkface
# 0.2 years better but put 70% of congress in range.
CYDRAL_AGE_KNOTS = np.arange(0.0, 76.0, 15.0)
CYDRAL_AGE_CALIBRATED = np.array([1.0, 11.09, 34.38, 49.3, 65.43, 74.33])


def calibrated_years(expectation: float) -> float:
    """Years for the age network's expectation, through the monotone map above."""
    return float(np.interp(expectation, CYDRAL_AGE_KNOTS, CYDRAL_AGE_CALIBRATED))


# Which bucket each age class falls nearest to, on the calibrated scale.
_CYDRAL_BUCKET_OF_CLASS = np.array(
    [nearest_bucket_index(calibrated_years(years)) for years in CYDRAL_AGE_YEARS]
)

# Levi & Hassner (2015): 227x227 BGR crops with these means; label orders as in their deploy files.
LEVI_HASSNER_MEAN = (78.4263377603, 87.7689143744, 114.895847746)
LEVI_HASSNER_SIZE = 227
LEVI_HASSNER_GENDERS = ("male", "female")
# Context around the detector box; the networks were trained on loosely cropped faces.
LEVI_HASSNER_MARGIN = 0.2


@dataclass(frozen=True, slots=True)
class FaceInputs:
    """Per-network input batches (NCHW float32) for the faces of one image, in face order."""

    gender: np.ndarray
    age: np.ndarray


class AttributeModel(Protocol):
    """What every pack kind provides: prepare inputs for faces, then classify them."""

    gender_net: cv2.dnn.Net
    age_net: cv2.dnn.Net

    def prepare(self, image: np.ndarray, faces: list[FaceBox]) -> FaceInputs: ...

    def classify(self, inputs: FaceInputs) -> list[FaceAttributes]: ...


def _forward(net: cv2.dnn.Net, batch: np.ndarray) -> np.ndarray:
    net.setInput(batch)
    return np.asarray(net.forward(), dtype=np.float64).reshape(batch.shape[0], -1)


class CydralModel:
    """Cydral's gender (32x32) and age (64x64, 81 classes) networks on dlib-aligned chips."""

    def __init__(self, landmarks: Path, gender: Path, age: Path) -> None:
        self.landmarker = Landmarker(str(landmarks))
        self.gender_net = cv2.dnn.readNetFromONNX(str(gender))
        self.age_net = cv2.dnn.readNetFromONNX(str(age))

    def prepare(self, image: np.ndarray, faces: list[FaceBox]) -> FaceInputs:
        gender_chips, age_chips = [], []
        for face in faces:
            frame = face_frame(self.landmarker.landmarks(image, landmark_box(face)))
            for padding in CYDRAL_PADDINGS:
                gender_chips.append(_chip(image, frame, CYDRAL_GENDER_SIZE, padding))
                age_chips.append(_chip(image, frame, CYDRAL_AGE_SIZE, padding))
        return FaceInputs(
            _cydral_batch(gender_chips, CYDRAL_GENDER_SIZE),
            _cydral_batch(age_chips, CYDRAL_AGE_SIZE),
        )

    def classify(self, inputs: FaceInputs) -> list[FaceAttributes]:
        if inputs.gender.shape[0] == 0:
            return []
        views = len(CYDRAL_PADDINGS)
        genders = _forward(self.gender_net, inputs.gender).reshape(-1, views, 2).mean(axis=1)
        ages = (
            _forward(self.age_net, inputs.age)
            .reshape(-1, views, CYDRAL_AGE_YEARS.size)
            .mean(axis=1)
        )
        results = []
        for gender, age in zip(genders, ages, strict=True):
            years = calibrated_years(float(age @ CYDRAL_AGE_YEARS))
            bucket = nearest_bucket_index(years)
            results.append(
                FaceAttributes(
                    gender="female" if gender[0] >= gender[1] else "male",
                    gender_confidence=round(float(gender.max()), 4),
                    age_years=round(years, 1),
                    age_range=bucket_label(AGE_BUCKETS[bucket]),
                    # the probability that the true age falls nearest to the reported bucket
                    age_confidence=round(float(age[bucket == _CYDRAL_BUCKET_OF_CLASS].sum()), 4),
                )
            )
        return results


def _chip(image: np.ndarray, frame: np.ndarray, size: int, padding: float) -> np.ndarray:
    return extract_chip(image, chip_transform(frame, size, padding), size)


def _cydral_batch(chips: list[np.ndarray], size: int) -> np.ndarray:
    if not chips:
        return np.zeros((0, 3, size, size), dtype=np.float32)
    return cv2.dnn.blobFromImages(chips, 1 / 256, (size, size), CYDRAL_MEAN, swapRB=True)


class LeviHassnerModel:
    """Levi & Hassner's CaffeNet-style gender (2 classes) and age (8 buckets) networks."""

    def __init__(self, gender_config: Path, gender: Path, age_config: Path, age: Path) -> None:
        self.gender_net = cv2.dnn.readNetFromCaffe(str(gender_config), str(gender))
        self.age_net = cv2.dnn.readNetFromCaffe(str(age_config), str(age))

    def prepare(self, image: np.ndarray, faces: list[FaceBox]) -> FaceInputs:
        height, width = image.shape[:2]
        crops = []
        for face in faces:
            dx, dy = int(face.width * LEVI_HASSNER_MARGIN), int(face.height * LEVI_HASSNER_MARGIN)
            crop = image[
                max(0, face.y - dy) : min(height, face.y + face.height + dy),
                max(0, face.x - dx) : min(width, face.x + face.width + dx),
            ]
            crops.append(
                cv2.resize(
                    crop, (LEVI_HASSNER_SIZE, LEVI_HASSNER_SIZE), interpolation=cv2.INTER_AREA
                )
            )
        if not crops:
            empty = np.zeros((0, 3, LEVI_HASSNER_SIZE, LEVI_HASSNER_SIZE), dtype=np.float32)
            return FaceInputs(empty, empty)
        batch = cv2.dnn.blobFromImages(
            crops, 1.0, (LEVI_HASSNER_SIZE, LEVI_HASSNER_SIZE), LEVI_HASSNER_MEAN, swapRB=False
        )
        return FaceInputs(batch, batch)

    def classify(self, inputs: FaceInputs) -> list[FaceAttributes]:
        if inputs.gender.shape[0] == 0:
            return []
        genders = _forward(self.gender_net, inputs.gender)
        ages = _forward(self.age_net, inputs.age)
        results = []
        for gender, age in zip(genders, ages, strict=True):
            bucket = int(age.argmax())
            low, high = AGE_BUCKETS[bucket]
            results.append(
                FaceAttributes(
                    gender=LEVI_HASSNER_GENDERS[int(gender.argmax())],
                    gender_confidence=round(float(gender.max()), 4),
                    age_years=(low + high) / 2,
                    age_range=bucket_label(AGE_BUCKETS[bucket]),
                    age_confidence=round(float(age[bucket]), 4),
                )
            )
        return results
