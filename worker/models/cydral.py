"""The `cydral` pack kind: Cydral's gender (32x32) and age (64x64, 81 classes) networks on
dlib-aligned chips, each face seen on one chip per padding of PipelineOptions.cydral_paddings."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path

import cv2
import numpy as np

from worker.align import Landmarker, chip_transform, extract_chip, face_frame, landmark_box
from worker.faces import AGE_BUCKETS, FaceAttributes, FaceBox, bucket_label, nearest_bucket_index
from worker.models.base import FaceInputs, face_scores
from worker.models.engine import Engine, Network
from worker.options import PipelineOptions

# Cydral's networks: RGB chips, (pixel - mean) / 256, per dlib-models' training code.
CYDRAL_MEAN = (122.782, 117.001, 104.298)
CYDRAL_GENDER_SIZE, CYDRAL_AGE_SIZE = 32, 64
# Class k of the age network means k years, except class 0, which dlib-models weights as 0.25.
CYDRAL_AGE_YEARS = np.array([0.25, *range(1, 81)], dtype=np.float64)


def calibrated_years(expectation: float, options: PipelineOptions) -> float:
    """Years for the age network's expectation, through the options' monotone age map."""
    return float(np.interp(expectation, options.age_knots, options.age_calibrated))


@functools.cache
def bucket_of_class(options: PipelineOptions) -> np.ndarray:
    """Which bucket each age class falls nearest to, on the calibrated scale."""
    return np.array(
        [nearest_bucket_index(calibrated_years(years, options)) for years in CYDRAL_AGE_YEARS]
    )


def _chip(image: np.ndarray, frame: np.ndarray, size: int, padding: float) -> np.ndarray:
    return extract_chip(image, chip_transform(frame, size, padding), size)


def _batch(chips: list[np.ndarray], size: int) -> np.ndarray:
    if not chips:
        return np.zeros((0, 3, size, size), dtype=np.float32)
    return cv2.dnn.blobFromImages(chips, 1 / 256, (size, size), CYDRAL_MEAN, swapRB=True)


class CydralModel:
    """Landmarks, chips and Cydral's two networks; ages calibrated as the options say."""

    def __init__(
        self,
        landmarker: Landmarker,
        gender_net: Network,
        age_net: Network,
        options: PipelineOptions,
    ) -> None:
        self.landmarker = landmarker
        self.gender_net, self.age_net = gender_net, age_net
        self.options = options

    def prepare(self, image: np.ndarray, faces: list[FaceBox]) -> FaceInputs:
        gender_chips, age_chips = [], []
        for face in faces:
            box = landmark_box(face, self.options)
            frame = face_frame(self.landmarker.landmarks(image, box))
            for padding in self.options.cydral_paddings:
                gender_chips.append(_chip(image, frame, CYDRAL_GENDER_SIZE, padding))
                age_chips.append(_chip(image, frame, CYDRAL_AGE_SIZE, padding))
        return FaceInputs(
            _batch(gender_chips, CYDRAL_GENDER_SIZE),
            _batch(age_chips, CYDRAL_AGE_SIZE),
            len(self.options.cydral_paddings),
        )

    def classify(self, inputs: FaceInputs) -> list[FaceAttributes]:
        if inputs.gender.shape[0] == 0:
            return []
        genders = face_scores(self.gender_net, inputs.gender, inputs.views)
        ages = face_scores(self.age_net, inputs.age, inputs.views)
        bucket_of = bucket_of_class(self.options)
        results = []
        for gender, age in zip(genders, ages, strict=True):
            years = calibrated_years(float(age @ CYDRAL_AGE_YEARS), self.options)
            bucket = nearest_bucket_index(years)
            results.append(
                FaceAttributes(
                    gender="female" if gender[0] >= gender[1] else "male",
                    gender_confidence=round(float(gender.max()), 4),
                    age_years=round(years, 1),
                    age_range=bucket_label(AGE_BUCKETS[bucket]),
                    # the probability that the true age falls nearest to the reported bucket
                    age_confidence=round(float(age[bucket == bucket_of].sum()), 4),
                )
            )
        return results


def load(
    model_dir: Path, roles: Mapping[str, str], options: PipelineOptions, engine: Engine
) -> CydralModel:
    """The pack's landmark model and its gender and age networks (ONNX, on `engine`; their
    batches vary with the number of faces, so no input shape is known in advance)."""
    return CydralModel(
        Landmarker(str(model_dir / roles["landmarks"])),
        engine.onnx(model_dir / roles["gender"]),
        engine.onnx(model_dir / roles["age"]),
        options,
    )
