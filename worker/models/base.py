"""What the pipeline asks of its models: a face detector, and an attribute model (one per pack
kind) with the batches that travel between its two steps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from shared.result_values import INT8
from worker.faces import FaceAttributes, FaceBox
from worker.models.engine import Engine, Network, Shape
from worker.options import PipelineOptions


@dataclass(frozen=True, slots=True)
class FaceInputs:
    """Per-network input batches (NCHW float32) for the faces of one image, in face order, with
    `views` consecutive inputs per face (test-time augmentation) whose outputs are averaged. A
    kind whose networks share their chips passes the same array for each; the expression batches
    only for models with expression networks loaded (`expression_grey`: a second network's)."""

    gender: np.ndarray
    age: np.ndarray
    views: int
    expression: np.ndarray | None = None
    expression_grey: np.ndarray | None = None


class FaceDetector(Protocol):
    """Faces in an image."""

    def detect(self, image: np.ndarray, min_score: float) -> list[FaceBox]:
        """Faces scoring at least min_score, boxes clipped to the image, highest score first."""
        ...


class AttributeModel(Protocol):
    """Gender and age (and the expression, where the model has a network for it) for faces:
    prepare network inputs for them, then classify them. One network may serve several
    attributes (then it is named by each)."""

    gender_net: Network
    age_net: Network
    expression_net: Network | None

    def prepare(self, image: np.ndarray, faces: list[FaceBox]) -> FaceInputs: ...

    def classify(self, inputs: FaceInputs) -> list[FaceAttributes]: ...


def face_scores(network: Network, batch: np.ndarray, views: int) -> np.ndarray:
    """One forward for the whole batch: each face's outputs, averaged over its views."""
    outputs = np.asarray(network.run(batch), dtype=np.float64).reshape(batch.shape[0], -1)
    return outputs.reshape(-1, views, outputs.shape[1]).mean(axis=1)


def role_network(
    engine: Engine,
    model_dir: Path,
    roles: Mapping[str, str],
    role: str,
    options: PipelineOptions,
    shapes: Sequence[Shape] = (),
) -> Network:
    """The ONNX network of a pack's role on `engine`, in fp32 whatever the engine's precision
    when the options name the role among the networks kept fp32 at that precision."""
    kept = options.int8_full_precision if engine.precision == INT8 else options.full_precision
    full_precision = role in kept
    return engine.onnx(model_dir / roles[role], shapes, full_precision=full_precision)
