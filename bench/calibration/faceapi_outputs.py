"""The default pack's network outputs (face-api's AgeGenderNet and FaceExpressionNet) for the best
face of every labelled photo of ../shared/eval, one chip per candidate padding, computed once and
cached (var/bench-cache/, keyed as bench/calibration/cydral_outputs.py keys the cydral pack's), so
that calibrations and chip choices are fitted and scored without running the networks again.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.accuracy import packs as accuracy
from bench.calibration.cydral_outputs import CACHE_DIR, cache_key
from shared.settings import get_settings
from worker.decode import decode_image
from worker.models.faceapi import FaceApiModel
from worker.options import SHIPPED, PipelineOptions
from worker.pipeline import load_pipeline

# Chips cut for every face: the shipped choice is among them (bench.calibration.faceapi compares
# them).
CANDIDATE_PADDINGS = (0.15, 0.2, 0.25, 0.3, 0.35)
SOURCES = (
    "worker/decode.py",
    "worker/align.py",
    "worker/models/res10.py",
    "worker/models/faceapi.py",
    "worker/models/engine.py",
    "bench/accuracy/packs.py",
    "bench/calibration/faceapi_outputs.py",
)


@dataclass(frozen=True)
class FaceApiOutputs:
    """One labelled set: per photo its labels and, when a face was found, the best face's network
    outputs on each candidate chip (NaN when none was found)."""

    files: np.ndarray  # (n,) str
    genders: np.ndarray  # (n,) "female" / "male"
    low: np.ndarray  # (n,) true age, or the low end of its labelled range
    high: np.ndarray  # (n,) same as low for exact ages
    point: np.ndarray  # (n,) exact age or best point guess; NaN if none
    found: np.ndarray  # (n,) bool
    age_views: np.ndarray  # (n, paddings) the network's age
    male_views: np.ndarray  # (n, paddings) P(male)
    faceapi_expression_views: np.ndarray  # (n, paddings, 7) face-api's FaceExpressionNet
    fer_expression_views: np.ndarray  # (n, paddings, 7) fer's, in EXPRESSIONS order

    def subset(self, keep: np.ndarray) -> FaceApiOutputs:
        fields = dataclasses.fields(self)
        return FaceApiOutputs(**{f.name: getattr(self, f.name)[keep] for f in fields})

    def chips(self, paddings: tuple[float, ...]) -> FaceApiOutputs:
        """The outputs as if only these paddings had been cut (averaged over them, one view)."""
        views = [CANDIDATE_PADDINGS.index(p) for p in paddings]
        return dataclasses.replace(
            self,
            age_views=self.age_views[:, views].mean(axis=1, keepdims=True),
            male_views=self.male_views[:, views].mean(axis=1, keepdims=True),
            faceapi_expression_views=self.faceapi_expression_views[:, views].mean(
                axis=1, keepdims=True
            ),
            fer_expression_views=self.fer_expression_views[:, views].mean(axis=1, keepdims=True),
        )

    @property
    def age(self) -> np.ndarray:
        return self.age_views.mean(axis=1)

    @property
    def male(self) -> np.ndarray:
        return self.male_views.mean(axis=1)

    @property
    def expression(self) -> np.ndarray:
        """What the pack says: the mean of both networks' probabilities."""
        both = (self.faceapi_expression_views + self.fer_expression_views) / 2
        return both.mean(axis=1)


def _compute(eval_dir: Path, name: str, options: PipelineOptions) -> dict[str, np.ndarray]:
    settings = get_settings()
    pipeline = load_pipeline(settings, "default", options=options)
    model = pipeline.attributes
    assert isinstance(model, FaceApiModel)
    views = len(options.faceapi_paddings)
    folder = eval_dir / name
    rows = accuracy.labels(folder)
    keys = ("low", "high", "point", "found", "a", "m", "e", "f")
    out: dict[str, list[object]] = {k: [] for k in keys}
    for row in rows:
        image = decode_image(accuracy.photo_bytes(folder, row), settings.max_pixels)
        faces = pipeline.detector.detect(image.pixels, settings.min_face_score)
        low, high = accuracy.age_bounds(row)
        point = accuracy.true_age(folder, row)
        out["low"].append(float(low))
        out["high"].append(float(high))
        out["point"].append(np.nan if point is None else point)
        out["found"].append(bool(faces))
        if not faces:
            out["a"].append(np.full(views, np.nan))
            out["m"].append(np.full(views, np.nan))
            out["e"].append(np.full((views, 7), np.nan))
            out["f"].append(np.full((views, 7), np.nan))
            continue
        prepared = model.prepare(image.pixels, faces[:1])
        outputs = model.outputs(dataclasses.replace(prepared, views=1))  # each chip apart
        out["a"].append(outputs["age"])
        out["m"].append(outputs["male"])
        out["e"].append(outputs["expression_faceapi"])
        out["f"].append(outputs["expression_fer"])
    return {
        "files": np.array([row["file"] for row in rows]),
        "genders": np.array([row["gender"] for row in rows]),
        "low": np.array(out["low"]),
        "high": np.array(out["high"]),
        "point": np.array(out["point"]),
        "found": np.array(out["found"]),
        "age_views": np.array(out["a"]),
        "male_views": np.array(out["m"]),
        "faceapi_expression_views": np.array(out["e"]),
        "fer_expression_views": np.array(out["f"]),
    }


def faceapi_outputs(eval_dir: Path, name: str) -> FaceApiOutputs:
    """The set's outputs on every candidate chip, from the cache when it has them."""
    options = dataclasses.replace(SHIPPED, faceapi_paddings=CANDIDATE_PADDINGS)
    key = cache_key(options, eval_dir, "default", SOURCES)
    path = CACHE_DIR / f"faceapi-{name}-{key}.npz"
    if not path.exists():
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **_compute(eval_dir, name, options))
    with np.load(path) as data:
        return FaceApiOutputs(**{key: data[key] for key in data.files})
