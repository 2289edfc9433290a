"""The cydral pack's network outputs for the best face of every labelled photo of ../shared/eval,
computed once and cached, so calibrations are fitted and scored without running the networks again
(bench/calibration/faceapi_outputs.py does the same for the default pack's networks).

The cache (var/bench-cache/, git-ignored) is keyed by everything that shapes the outputs: the
options that move boxes and chips (not the calibration), the pack, the engine and the source of
the code that computes them (SOURCES). Calibration-only options do not touch it.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.accuracy import packs as accuracy
from bench.common import REPO
from shared.manifest import load_pack
from shared.settings import get_settings
from worker.decode import decode_image
from worker.models.base import face_scores
from worker.models.cydral import CydralModel
from worker.options import CALIBRATION_FIELDS, SHIPPED, PipelineOptions
from worker.pipeline import load_pipeline

CACHE_DIR = REPO / "var" / "bench-cache"
# The code that decides the outputs: the stages that cut the chips, the networks' runners, and
# this bench's own reading of the photos and labels (bench/accuracy/packs.py pads utkface's crops).
SOURCES = (
    "worker/decode.py",
    "worker/align.py",
    "worker/models/res10.py",
    "worker/models/cydral.py",
    "worker/models/base.py",
    "worker/models/engine.py",
    "bench/accuracy/packs.py",
    "bench/calibration/cydral_outputs.py",
)


@dataclass(frozen=True)
class SetOutputs:
    """One labelled set: per photo its labels and, when a face was found, the best face's
    network probabilities on each chip (NaN when none was found)."""

    files: np.ndarray  # (n,) str
    genders: np.ndarray  # (n,) str, "female" / "male"
    low: np.ndarray  # (n,) true age, or the low end of its labelled range
    high: np.ndarray  # (n,) same as low for exact ages
    point: np.ndarray  # (n,) exact age or best point guess; NaN if none
    found: np.ndarray  # (n,) bool
    gender_views: np.ndarray  # (n, views, 2) female, male
    age_views: np.ndarray  # (n, views, 81)

    @property
    def gender(self) -> np.ndarray:
        return self.gender_views.mean(axis=1)

    @property
    def age(self) -> np.ndarray:
        return self.age_views.mean(axis=1)

    def subset(self, keep: np.ndarray) -> SetOutputs:
        return SetOutputs(**{f.name: getattr(self, f.name)[keep] for f in dataclasses.fields(self)})


def cache_key(
    options: PipelineOptions,
    eval_dir: Path,
    pack: str = "cydral",
    sources: tuple[str, ...] = SOURCES,
) -> str:
    settings = get_settings()
    shaping = {
        f.name: getattr(options, f.name)
        for f in dataclasses.fields(options)
        if f.name not in CALIBRATION_FIELDS
    }
    digest = hashlib.sha256(repr((shaping, str(eval_dir.resolve()))).encode())
    digest.update(f"{load_pack(pack).fingerprint} {settings.engine} {settings.precision}".encode())
    for source in sources:
        digest.update((REPO / source).read_bytes())
    return digest.hexdigest()[:16]


def _compute(eval_dir: Path, name: str, options: PipelineOptions) -> dict[str, np.ndarray]:
    settings = get_settings()
    pipeline = load_pipeline(settings, "cydral", options=options)
    model = pipeline.attributes
    assert isinstance(model, CydralModel)
    views = len(options.cydral_paddings)
    folder = eval_dir / name
    rows = accuracy.labels(folder)
    out: dict[str, list[object]] = {k: [] for k in ("low", "high", "point", "found", "g", "a")}
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
            out["g"].append(np.full((views, 2), np.nan))
            out["a"].append(np.full((views, 81), np.nan))
            continue
        inputs = model.prepare(image.pixels, faces[:1])
        out["g"].append(face_scores(model.gender_net, inputs.gender, 1))
        out["a"].append(face_scores(model.age_net, inputs.age, 1))
    return {
        "files": np.array([row["file"] for row in rows]),
        "genders": np.array([row["gender"] for row in rows]),
        "low": np.array(out["low"]),
        "high": np.array(out["high"]),
        "point": np.array(out["point"]),
        "found": np.array(out["found"]),
        "gender_views": np.array(out["g"]),
        "age_views": np.array(out["a"]),
    }


def set_outputs(eval_dir: Path, name: str, options: PipelineOptions = SHIPPED) -> SetOutputs:
    """The set's outputs under `options`, from the cache when it has them."""
    path = CACHE_DIR / f"{name}-{cache_key(options, eval_dir)}.npz"
    if not path.exists():
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **_compute(eval_dir, name, options))
    with np.load(path) as data:
        return SetOutputs(**{key: data[key] for key in data.files})
