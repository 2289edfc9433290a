"""What does each accuracy choice of the cydral pack buy, and what does it cost? About 14 min.

What each accuracy choice of the cydral pack (the default until issue 28) buys: the accuracy
runner's figures with the choices added one at a time to a plain pipeline, and the cost of each in
align + classify time per face (1 OpenCV thread). Mirrored chips (horizontal-flip test-time
augmentation) are measured too.

    python -m bench.accuracy.ablation [--eval-dir DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bench.accuracy import packs as accuracy
from bench.calibration import cydral as calibration_cydral
from bench.common import EVAL_DIR, save, table
from shared.settings import get_settings
from worker.faces import FaceAttributes, FaceBox
from worker.models.base import AttributeModel, FaceInputs
from worker.options import SHIPPED, PipelineOptions
from worker.pipeline import Pipeline, load_pipeline

# Each step undoes one choice (the options it changes); a variant undoes every step after it.
STEPS: list[tuple[str, dict[str, Any]]] = [
    ("plain: res10 box to landmarks, 1 chip, no calibration", {}),
    ("+ landmark box mapped to dlib HOG's", {"hog_box": False}),
    ("+ second chip (paddings 0.15 and 0.2)", {"cydral_paddings": (0.2,)}),
    ("+ monotone age calibration", calibration_cydral.UNCALIBRATED),
    ("+ corner and shape filters", {"corner_overhang": math.inf, "aspect_limits": (0.0, math.inf)}),
    ("+ closer look at weak candidates (shipped)", {"candidate_score": 1.0}),
]


class Mirrored:
    """An attribute model that also classifies every chip's mirror image and averages them."""

    def __init__(self, model: AttributeModel) -> None:
        self.model = model
        self.gender_net, self.age_net = model.gender_net, model.age_net

    def prepare(self, image: np.ndarray, faces: list[FaceBox]) -> FaceInputs:
        inputs = self.model.prepare(image, faces)
        return FaceInputs(
            _with_mirrors(inputs.gender, inputs.views),
            _with_mirrors(inputs.age, inputs.views),
            2 * inputs.views,
        )

    def classify(self, inputs: FaceInputs) -> list[FaceAttributes]:
        return self.model.classify(inputs)


def _with_mirrors(batch: np.ndarray, views: int) -> np.ndarray:
    """Per face, its chips, then their mirror images (NCHW, faces in order)."""
    faces = batch.reshape(-1, views, *batch.shape[1:])
    both = np.concatenate([faces, faces[..., ::-1]], axis=1)
    return np.ascontiguousarray(both.reshape(-1, *batch.shape[1:]))


def undone(steps: int) -> PipelineOptions:
    """The shipped options with every step after the first `steps` undone."""
    changes: dict[str, Any] = {}
    for _, change in STEPS[steps:]:
        changes.update(change)
    return dataclasses.replace(SHIPPED, **changes)


def measured(name: str, pipeline: Pipeline, eval_dir: Path) -> dict[str, Any]:
    """The accuracy runner's figures, and align + classify ms per face found."""
    spent: list[tuple[float, int]] = []

    def analyse(data: bytes) -> list[dict[str, Any]]:
        result = pipeline.analyze(data).result
        timings = result["timings_ms"]
        spent.append((timings["align"] + timings["classify"], len(result["faces"])))
        return result["faces"]

    results = accuracy.evaluate(name, analyse, eval_dir)
    results["ms_per_face"] = sum(ms for ms, _ in spent) / max(1, sum(n for _, n in spent))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)  # as in a worker process
    settings = get_settings()
    results = []
    for count, (name, _) in enumerate(STEPS, start=1):
        pipeline = load_pipeline(settings, "cydral", verified=count > 1, options=undone(count))
        results.append(measured(name, pipeline, args.eval_dir))
    pipeline.attributes = Mirrored(pipeline.attributes)  # the last variant undoes nothing
    results.append(measured("shipped + mirrored chips (both networks)", pipeline, args.eval_dir))
    rows = [[*accuracy.summary_row(r), r["ms_per_face"]] for r in results]
    print(
        table(
            [*accuracy.SUMMARY_HEADERS, "align+classify ms/face"],
            rows,
            "The cydral pack, one choice at a time, on ../shared/eval",
        )
    )
    save("ablation", results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
