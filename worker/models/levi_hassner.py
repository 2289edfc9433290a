"""The `levi-hassner` pack kind: Levi & Hassner's (2015) CaffeNet-style gender (2 classes) and age
(8 buckets) networks on loose crops around the detector box."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import cv2
import numpy as np

from shared.result_values import AGE_BUCKETS, Gender, bucket_label
from worker.faces import FaceAttributes, FaceBox
from worker.models.base import FaceInputs, face_scores
from worker.models.engine import Engine, Network, load_caffe
from worker.options import PipelineOptions

# 227x227 BGR crops with these means; label orders as in their deploy files.
LEVI_HASSNER_MEAN = (78.4263377603, 87.7689143744, 114.895847746)
LEVI_HASSNER_SIZE = 227
LEVI_HASSNER_GENDERS = (Gender.MALE, Gender.FEMALE)


class LeviHassnerModel:
    """One crop per face (PipelineOptions.levi_hassner_margin around the box), both networks."""

    def __init__(self, gender_net: Network, age_net: Network, options: PipelineOptions) -> None:
        self.gender_net, self.age_net = gender_net, age_net
        self.expression_net: Network | None = None
        self.options = options

    def prepare(self, image: np.ndarray, faces: list[FaceBox]) -> FaceInputs:
        height, width = image.shape[:2]
        margin, size = self.options.levi_hassner_margin, LEVI_HASSNER_SIZE
        crops = []
        for face in faces:
            dx, dy = int(face.width * margin), int(face.height * margin)
            crop = image[
                max(0, face.y - dy) : min(height, face.y + face.height + dy),
                max(0, face.x - dx) : min(width, face.x + face.width + dx),
            ]
            crops.append(cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA))
        if not crops:
            empty = np.zeros((0, 3, size, size), dtype=np.float32)
            return FaceInputs(empty, empty, 1)
        batch = cv2.dnn.blobFromImages(crops, 1.0, (size, size), LEVI_HASSNER_MEAN, swapRB=False)
        return FaceInputs(batch, batch, 1)

    def classify(self, inputs: FaceInputs) -> list[FaceAttributes]:
        if inputs.gender.shape[0] == 0:
            return []
        genders = face_scores(self.gender_net, inputs.gender, inputs.views)
        ages = face_scores(self.age_net, inputs.age, inputs.views)
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


def load(
    model_dir: Path,
    roles: Mapping[str, str],
    options: PipelineOptions,
    engine: Engine,
    expression: bool = False,
) -> LeviHassnerModel:
    """The pack's gender and age networks (Caffe weights and prototxt each). They run in cv2.dnn
    whatever the engine: only res10 has an ONNX conversion (its converter has no LRN or
    InnerProduct, which these CaffeNets use)."""
    return LeviHassnerModel(
        load_caffe(model_dir / roles["gender"], model_dir / roles["gender_config"]),
        load_caffe(model_dir / roles["age"], model_dir / roles["age_config"]),
        options,
    )
