"""Do the default pack's landmarks and its chips per face pay? About 15 min.

What the default pack's per-face work buys (issue 30 item 3): the landmarks (dlib's five
points, which align the chip) against a chip cut from the detector's box alone, and one chip per
face against two. Accuracy figures on ../shared/eval with a paired bootstrap interval of each
change against the shipped pipeline, and align + classify time per face (portraits, medians).
The age map and spreads stay the shipped ones (fitted on landmark chips): a box chip would get
its own fit, so its age figures here are a lower bound.

Measured (one run, the Xeon with AMX, busy): the box chip saved about a quarter of the per-face
time but cost 3 congress genders and 0.85 / 0.42 years of MAE (intervals clear of 0): the
landmarks pay. A second chip (0.2 and 0.3) put 3.6 points more of congress in range (interval
+0.8 to +6.9) for about 1.7x the per-face time: left out while the speed targets are missed.

    python -m bench.accuracy.ablation_faceapi [--eval-dir DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
from pathlib import Path

import cv2
import numpy as np

from bench.accuracy import noise_gate
from bench.accuracy import packs as accuracy
from bench.common import EVAL_DIR, save, table
from shared.settings import get_settings
from worker.align import chip_transform, extract_chip, landmark_box
from worker.faces import FaceBox
from worker.models.faceapi import FACEAPI_SIZE, FaceApiModel
from worker.options import SHIPPED
from worker.pipeline import Pipeline, load_pipeline

FIGURES = ("congress gender", "congress in range", "congress MAE", "utk gender", "utk MAE")


class BoxChips(FaceApiModel):
    """The chips cut from the detector's box (mapped to the HOG box the landmark model expects,
    which is where dlib's unit face sits) instead of from the landmarks: no landmark model."""

    def chips(self, image: np.ndarray, faces: list[FaceBox]) -> list[np.ndarray]:
        chips = []
        for face in faces:
            box = landmark_box(face, self.options)
            frame = np.array([[box.width, 0.0, box.x], [0.0, box.height, box.y]])
            for padding in self.options.faceapi_paddings:
                to_image = chip_transform(frame, FACEAPI_SIZE, padding)
                chips.append(extract_chip(image, to_image, FACEAPI_SIZE))
        return chips


def variants() -> dict[str, Pipeline]:
    settings = get_settings()
    shipped = load_pipeline(settings)
    box = load_pipeline(settings, verified=True)
    model = box.attributes
    assert isinstance(model, FaceApiModel)
    box.attributes = BoxChips(
        model.landmarker,
        model.age_net,
        (model.expression_net, model.fer_net) if model.expression_net and model.fer_net else None,
        model.options,
    )
    two = load_pipeline(
        settings, verified=True, options=dataclasses.replace(SHIPPED, faceapi_paddings=(0.2, 0.3))
    )
    return {
        "landmarks, 1 chip (shipped)": shipped,
        "box, no landmarks, 1 chip": box,
        "landmarks, 2 chips (0.2, 0.3)": two,
    }


def per_face_ms(pipeline: Pipeline, photos: list[bytes]) -> float:
    """Median align + classify time of a one-face photo."""
    times = []
    for data in photos:
        timings = pipeline.analyze(data).result["timings_ms"]
        times.append(timings["align"] + timings["classify"])
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    pipelines = variants()
    congress = args.eval_dir / "congress"
    portraits = [accuracy.photo_bytes(congress, row) for row in accuracy.labels(congress)[:60]]
    scores = {
        name: noise_gate.photo_scores(accuracy.readface(p), args.eval_dir)
        for name, p in pipelines.items()
    }
    shipped_name = next(iter(pipelines))
    rows, saved = [], {}
    for name, pipeline in pipelines.items():
        cost = per_face_ms(pipeline, portraits)
        cells: list[object] = [name, cost]
        for figure in FIGURES:
            value = float(np.nanmean(scores[name][figure]))
            low, high = noise_gate.bootstrap_interval(
                scores[name][figure], scores[shipped_name][figure]
            )
            cells.append(f"{value:.3f} [{low:+.3f}, {high:+.3f}]")
        rows.append(cells)
        saved[name] = cells
    print(
        table(
            ["variant", "align+classify ms/face", *FIGURES],
            rows,
            "The default pack's per-face work (figure [paired 95% interval of the change "
            "against the shipped])",
        )
    )
    save("ablation_faceapi", saved)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
