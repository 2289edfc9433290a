"""The whole inference pipeline: bytes in, the contract's `result` and an annotated JPEG out."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from shared.manifest import Pack, load_pack
from shared.result_values import ATTRIBUTES
from shared.settings import Settings
from worker.annotate import annotate, encode_jpeg
from worker.decode import DecodedImage, decode_image
from worker.faces import FaceAttributes, FaceBox
from worker.fault_injection import pause_at
from worker.models import PackModels, load_models
from worker.models.engine import OPENVINO_CACHE, load_engine
from worker.options import SHIPPED, PipelineOptions
from worker.packs import verify_pack


@dataclass(frozen=True, slots=True)
class Analysis:
    """The contract's `result` object (JSON-ready) and the annotated image as JPEG bytes."""

    result: dict[str, Any]
    annotated_jpeg: bytes


class Pipeline:
    """A verified, loaded model pack and the settings that shape its output."""

    def __init__(
        self,
        pack: Pack,
        models: PackModels,
        min_face_score: float,
        max_pixels: int,
        attributes: Sequence[str] = ATTRIBUTES,
    ) -> None:
        self.pack = pack
        self.version = pack.version(attributes)
        self.detector = models.detector
        self.attributes = models.attributes
        self.engine = models.engine
        self.min_face_score = min_face_score
        self.max_pixels = max_pixels

    def warm_up(self) -> None:
        """One forward pass through every network, so the first real image is not the slow one."""
        image = np.full((160, 160, 3), 128, dtype=np.uint8)
        self.detector.detect(image, 1.0)
        self.attributes.classify(self.attributes.prepare(image, [FaceBox(40, 40, 80, 80, 1.0)]))

    def analyze(self, data: bytes) -> Analysis:
        """Run every stage on one encoded image; InvalidImage/UnsupportedMediaType on bad bytes."""
        timings: dict[str, float] = {}
        clock = time.perf_counter()

        def lap(stage: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            timings[stage] = round((now - clock) * 1000, 2)
            clock = now

        start = clock
        image = decode_image(data, self.max_pixels)
        lap("decode")
        pause_at("detect")
        faces = self.detector.detect(image.pixels, self.min_face_score)
        lap("detect")
        inputs = self.attributes.prepare(image.pixels, faces)
        lap("align")
        attributes = self.attributes.classify(inputs)
        lap("classify")
        annotated = encode_jpeg(annotate(image.pixels, faces, attributes))
        lap("annotate")
        timings["total"] = round((time.perf_counter() - start) * 1000, 2)
        result = {
            "image": {"width": image.width, "height": image.height, "format": image.format},
            "faces": [
                _face_json(_full_size_box(face, image), attrs)
                for face, attrs in zip(faces, attributes, strict=True)
            ],
            "model": {
                "pack": self.pack.name,
                "version": self.version,
                "engine": self.engine.name,
                "precision": self.engine.precision,
            },
            "timings_ms": timings,
        }
        return Analysis(result=result, annotated_jpeg=annotated)


def _full_size_box(face: FaceBox, image: DecodedImage) -> FaceBox:
    """A box found on a reduced decode, in pixels of the full image (clipped to it)."""
    if image.scale == 1.0:
        return face
    left, top = round(face.x * image.scale), round(face.y * image.scale)
    right = min(image.width, round((face.x + face.width) * image.scale))
    bottom = min(image.height, round((face.y + face.height) * image.scale))
    return FaceBox(left, top, right - left, bottom - top, face.score)


def _face_json(face: FaceBox, attrs: FaceAttributes) -> dict[str, Any]:
    face_json: dict[str, Any] = {
        "box": {"x": face.x, "y": face.y, "width": face.width, "height": face.height},
        "score": face.score,
        "gender": {"label": attrs.gender, "confidence": attrs.gender_confidence},
        "age": {
            "years": attrs.age_years,
            "range": attrs.age_range,
            "confidence": attrs.age_confidence,
        },
    }
    if attrs.expression is not None:  # absent, never null, without an expression network
        face_json["expression"] = {
            "label": attrs.expression.label,
            "confidence": attrs.expression.confidence,
            "scores": attrs.expression.scores,
        }
    return face_json


def load_pipeline(
    settings: Settings,
    pack_name: str | None = None,
    verified: bool = False,
    options: PipelineOptions = SHIPPED,
) -> Pipeline:
    """Load the pack named (or the configured one) with the accuracy choices of `options` on the
    configured engine and precision (the expression network only if READFACE_ATTRIBUTES keeps
    it), warmed up and ready; its files are verified first unless
    the caller already did (a worker verifies once, before its processes fork). Call it in the
    process that will analyse: engines are created per process."""
    pack = load_pack(pack_name or settings.model_pack)
    if not verified:
        verify_pack(pack, settings.model_dir)
    engine = load_engine(settings.engine, settings.precision, settings.data_dir / OPENVINO_CACHE)
    expression = "expression" in settings.attributes
    models = load_models(pack, settings.model_dir, options, engine, expression)
    pipeline = Pipeline(
        pack, models, settings.min_face_score, settings.max_pixels, settings.attributes
    )
    pipeline.warm_up()
    return pipeline
