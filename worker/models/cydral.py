"""The `cydral` pack kind: Cydral's gender (32x32) and age (64x64, 81 classes) networks on
dlib-aligned chips, each face seen on one chip per padding of PipelineOptions.cydral_paddings."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path

import cv2
import numpy as np

from shared.result_values import Gender
from worker.align import Landmarker, chip_transform, extract_chip, face_frame, landmark_box
from worker.faces import FaceAttributes, FaceBox
from worker.models.base import FaceInputs, face_scores, role_network
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


# The contract's `age.range` for packs that estimate years: the shortest span of whole years that
# contains the estimate and holds at least this much of the calibrated age distribution.
AGE_RANGE_MASS = 0.8


@functools.cache
def spread_kernel(spread: float) -> np.ndarray:
    """Column j: class j's probability spread over the classes by a Gaussian of `spread` in
    log(1 + years), i.e. by a share of the age (kept within 0-80), or left where it is when
    spread is 0."""
    where = np.log1p(CYDRAL_AGE_YEARS)
    if spread == 0:
        return np.eye(where.size)
    kernel = np.exp(-0.5 * ((where[:, None] - where[None, :]) / spread) ** 2)
    return kernel / kernel.sum(axis=0)


@functools.cache
def calibrated_class_years(options: PipelineOptions) -> np.ndarray:
    """Each age class's years on the calibrated scale (non-decreasing)."""
    return np.interp(CYDRAL_AGE_YEARS, options.age_knots, options.age_calibrated)


def age_interval(
    probabilities: np.ndarray, class_years: np.ndarray, years: float, mass: float = AGE_RANGE_MASS
) -> tuple[int, int, float]:
    """The shortest whole-year span [lo, hi] that contains `years` and holds at least `mass` of
    the distribution (classes at `class_years`, non-decreasing), and the mass inside it; among
    spans as short, the one holding most. Classes i..j in order cover [floor, ceil] of their
    years, so every candidate is such a run of classes."""
    below = np.concatenate([[0.0], np.cumsum(probabilities)])
    lows, highs = np.floor(class_years), np.ceil(class_years)
    i, j = np.meshgrid(np.arange(class_years.size), np.arange(class_years.size), indexing="ij")
    held = below[j + 1] - below[i]
    valid = (j >= i) & (held >= mass - 1e-9) & (lows[i] <= years) & (years <= highs[j])
    spans = np.where(valid, highs[j] - lows[i], np.inf)
    best = np.flatnonzero(spans == spans.min())
    first, last = np.unravel_index(best[np.argmax(held.ravel()[best])], spans.shape)
    lo, hi = int(lows[first]), int(highs[last])
    inside = (class_years >= lo) & (class_years <= hi)
    return lo, hi, float(probabilities[inside].sum())


def gender_log_odds(probabilities: np.ndarray) -> np.ndarray:
    """log(male / female) for (female, male) probabilities, one face or rows of faces; finite
    when the softmax saturates. The temperature is fitted on these same log-odds
    (bench/calibration/fit.py)."""
    clipped = np.clip(probabilities, 1e-12, 1.0)
    return np.asarray(np.log(clipped[..., 1]) - np.log(clipped[..., 0]))


def gender_confidence(probabilities: np.ndarray, temperature: float) -> float:
    """The probability of the likelier gender after temperature scaling of the log-odds."""
    log_odds = abs(float(gender_log_odds(probabilities))) / temperature
    return float(1.0 / (1.0 + np.exp(-log_odds)))


def face_attributes(
    gender: np.ndarray, age: np.ndarray, options: PipelineOptions
) -> FaceAttributes:
    """One face's contract values from its networks' probabilities (each averaged over the
    face's chips): the calibrated age, its interval on the spread distribution (the network's
    own is too sure of itself), the gender with its temperature-scaled confidence."""
    years = calibrated_years(float(age @ CYDRAL_AGE_YEARS), options)
    spread = spread_kernel(options.age_spread) @ age
    lo, hi, held = age_interval(spread, calibrated_class_years(options), years)
    return FaceAttributes(
        gender=Gender.FEMALE if gender[0] >= gender[1] else Gender.MALE,
        gender_confidence=round(gender_confidence(gender, options.gender_temperature), 4),
        age_years=round(years, 1),
        age_range=f"{lo}-{hi}",
        age_confidence=round(held, 4),
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
        self.expression_net: Network | None = None
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
        return [
            face_attributes(gender, age, self.options)
            for gender, age in zip(genders, ages, strict=True)
        ]


def load(
    model_dir: Path,
    roles: Mapping[str, str],
    options: PipelineOptions,
    engine: Engine,
    expression: bool = False,
) -> CydralModel:
    """The pack's landmark model and its gender and age networks (ONNX, on `engine`; their
    batches vary with the number of faces, so no input shape is known in advance)."""
    return CydralModel(
        Landmarker(str(model_dir / roles["landmarks"])),
        role_network(engine, model_dir, roles, "gender", options),
        role_network(engine, model_dir, roles, "age", options),
        options,
    )
