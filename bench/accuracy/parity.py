"""Do the OpenVINO engines give cv2.dnn's answers (issue 13's gates)? About 8 min.

Parity of the engines with the reference (cv2.dnn): every photo of ../shared/eval through
OpenVINO `exact` and `fast` and through `opencv`, faces paired by box overlap, and the gates of
issue 13 checked.

Gates: `exact` vs `opencv`: the same face count on every photo, box IoU >= 0.999, the same
gender labels and age ranges, age years within 0.05. `fast` vs `opencv`: the same face count on
every group photo and portrait, gender flips <= 0.5% of faces, mean |age change| <= 0.5 years,
and no figure of bench.accuracy.packs's table worse (each as that table prints it), from the same
analyses. Beside them, how far the reference's own figures move when its boxes move by one pixel
(each direction in turn): the noise any computation that is not bit-identical lives in.

    python -m bench.accuracy.parity [--limit N] [--eval-dir DIR]
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bench.accuracy import packs as accuracy
from bench.common import EVAL_DIR, save, table
from bench.engine_variants import variant_pipelines
from shared.result_values import EXACT, FAST
from shared.settings import get_settings
from worker.faces import FaceBox
from worker.models.base import FaceDetector
from worker.models.res10 import box_iou
from worker.pipeline import Pipeline

SETS = ("congress", "utkface", "groups")

EXACT_IOU, EXACT_YEARS = 0.999, 0.05
FAST_FLIPS, FAST_MEAN_YEARS = 0.005, 0.5


@dataclass(frozen=True, slots=True)
class FaceChange:
    """How one face's answer moved from the reference's to another engine's."""

    iou: float
    gender_flip: bool
    range_change: bool
    years: float  # |age change|
    score: float  # |score change|


def _box(face: dict[str, Any]) -> FaceBox:
    box = face["box"]
    return FaceBox(box["x"], box["y"], box["width"], box["height"], face["score"])


def face_changes(
    reference: Sequence[dict[str, Any]], faces: Sequence[dict[str, Any]]
) -> list[FaceChange] | None:
    """Each reference face against the other result's face overlapping it most (faces of equal
    scores may come in another order); None when the face counts differ."""
    if len(reference) != len(faces):
        return None
    unused = list(faces)
    changes = []
    for face in reference:
        ours = _box(face)
        match = max(unused, key=lambda other: box_iou(ours, _box(other)))
        unused.remove(match)
        changes.append(
            FaceChange(
                iou=box_iou(ours, _box(match)),
                gender_flip=face["gender"]["label"] != match["gender"]["label"],
                range_change=face["age"]["range"] != match["age"]["range"],
                years=abs(face["age"]["years"] - match["age"]["years"]),
                score=abs(face["score"] - match["score"]),
            )
        )
    return changes


@dataclass(frozen=True, slots=True)
class SetParity:
    """One variant against the reference over one set of photos."""

    photos: int
    count_changes: int  # photos whose face count differs
    changes: list[FaceChange]

    @property
    def faces(self) -> int:
        return len(self.changes)

    @property
    def flips(self) -> int:
        return sum(c.gender_flip for c in self.changes)

    def row(self) -> list[object]:
        years = [c.years for c in self.changes] or [0.0]
        return [
            self.photos,
            self.faces,
            self.count_changes,
            min((c.iou for c in self.changes), default=1.0),
            f"{self.flips} ({self.flips / max(1, self.faces):.2%})",
            sum(c.range_change for c in self.changes),
            float(np.mean(years)),
            max(years),
            max((c.score for c in self.changes), default=0.0),
        ]


def gates(precision: str, sets: dict[str, SetParity]) -> list[tuple[str, bool]]:
    """Each gate of the precision, and whether it holds over all sets."""
    changes = [c for parity in sets.values() for c in parity.changes]
    same_counts = (
        "same face count on every photo",
        all(not p.count_changes for p in sets.values()),
    )
    if precision == EXACT:
        return [
            same_counts,
            (f"box IoU >= {EXACT_IOU}", all(c.iou >= EXACT_IOU for c in changes)),
            ("same gender labels", not any(c.gender_flip for c in changes)),
            ("same age ranges", not any(c.range_change for c in changes)),
            (f"age within {EXACT_YEARS} years", all(c.years <= EXACT_YEARS for c in changes)),
        ]
    flips = sum(c.gender_flip for c in changes) / max(1, len(changes))
    mean_years = float(np.mean([c.years for c in changes])) if changes else 0.0
    return [
        same_counts,
        (f"gender flips {flips:.2%} <= {FAST_FLIPS:.1%}", flips <= FAST_FLIPS),
        (f"mean |age change| {mean_years:.3f} <= {FAST_MEAN_YEARS}", mean_years <= FAST_MEAN_YEARS),
    ]


def eval_photos(eval_dir: Path, limit: int | None) -> dict[str, list[bytes]]:
    """The photos of each set as analysed by bench.accuracy.packs (utkface padded)."""
    photos = {}
    for name in SETS:
        folder = eval_dir / name
        photos[name] = [accuracy.photo_bytes(folder, row) for row in accuracy.labels(folder)][
            :limit
        ]
    return photos


# bench.accuracy.packs's figures as its table prints them, and whether a higher one is better.
FIGURES: dict[str, tuple[Callable[[dict[str, Any]], float], bool]] = {
    "congress gender": (lambda r: round(r["congress"]["gender_accuracy"], 3), True),
    "congress in range": (lambda r: round(r["congress"]["age_in_range"], 3), True),
    "congress MAE": (lambda r: round(r["congress"]["age_mae"], 2), False),
    "congress not found": (lambda r: r["congress"]["not_found"], False),
    "utk gender": (lambda r: round(r["utkface"]["gender_accuracy"], 3), True),
    "utk MAE": (lambda r: round(r["utkface"]["age_mae"], 2), False),
    "utk not found": (lambda r: r["utkface"]["not_found"], False),
    "groups exact": (lambda r: r["groups"]["exact"], True),
}


class ShiftedDetector:
    """The reference's detector with every box moved by (dx, dy) pixels."""

    def __init__(self, detector: FaceDetector, dx: int, dy: int) -> None:
        self.detector, self.dx, self.dy = detector, dx, dy

    def detect(self, image: np.ndarray, min_score: float) -> list[FaceBox]:
        return [
            dataclasses.replace(face, x=face.x + self.dx, y=face.y + self.dy)
            for face in self.detector.detect(image, min_score)
        ]


def one_pixel_moves(pipeline: Pipeline) -> dict[str, accuracy.Analyse]:
    """The pipeline with its boxes moved one pixel right, left, down and up."""
    moved = {}
    for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        shifted = copy.copy(pipeline)
        shifted.detector = ShiftedDetector(pipeline.detector, dx, dy)
        moved[f"boxes moved ({dx:+d}, {dy:+d}) px"] = accuracy.readface(shifted)
    return moved


def worse_figures(reference: dict[str, Any], other: dict[str, Any]) -> list[str]:
    """The accuracy figures on which `other` is worse than `reference`, as "name a -> b"."""
    worse = []
    for name, (figure, higher_is_better) in FIGURES.items():
        before, after = figure(reference), figure(other)
        if (after < before) if higher_is_better else (after > before):
            worse.append(f"{name} {before:g} -> {after:g}")
    return worse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
    parser.add_argument("--limit", type=int, default=None, help="photos per set")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    pipelines = variant_pipelines(get_settings())
    # Each photo analysed once per variant: the accuracy figures score the analyses the parity
    # table compared.
    analysers = {name: functools.cache(accuracy.readface(p)) for name, p in pipelines.items()}
    reference_name, *others = pipelines
    photos = eval_photos(args.eval_dir, args.limit)
    parity: dict[str, dict[str, SetParity]] = {name: {} for name in others}
    for set_name, images in photos.items():
        reference = [analysers[reference_name](image) for image in images]
        for name in others:
            analyse = analysers[name]
            per_photo = [
                face_changes(ref, analyse(img)) for ref, img in zip(reference, images, strict=True)
            ]
            parity[name][set_name] = SetParity(
                photos=len(images),
                count_changes=sum(c is None for c in per_photo),
                changes=[change for changes in per_photo if changes for change in changes],
            )
    headers = [
        "variant",
        "set",
        "photos",
        "faces",
        "count changes",
        "min IoU",
        "gender flips",
        "range changes",
        "mean |dage|",
        "max |dage|",
        "max |dscore|",
    ]
    rows = [
        [name, set_name, *p.row()] for name, sets in parity.items() for set_name, p in sets.items()
    ]
    print(table(headers, rows, f"Against {reference_name} (faces paired by box overlap)"), "\n")
    # The accuracy figures need every labelled photo, so only a run over whole sets scores them.
    scored = {
        name: accuracy.evaluate(name, analyse, args.eval_dir)
        for name, analyse in analysers.items()
        if args.limit is None
    }
    moved_worse: dict[str, list[str]] = {}
    if scored:
        # Scored on exact, which equals the reference and runs faster.
        jitter = {
            name: accuracy.evaluate(name, analyse, args.eval_dir)
            for name, analyse in one_pixel_moves(pipelines[f"openvino {EXACT}"]).items()
        }
        figures = [accuracy.summary_row(r) for r in [*scored.values(), *jitter.values()]]
        print(
            table(
                accuracy.SUMMARY_HEADERS,
                figures,
                "Accuracy of each variant, and of the reference with its boxes moved by one pixel",
            )
        )
        moved_worse = {name: worse_figures(scored[reference_name], r) for name, r in jitter.items()}
        for name, worse in moved_worse.items():
            print(f"  {name}: worse on {'; '.join(worse) or 'no figure'}")
        print()
    verdicts = {}
    for name, sets in parity.items():
        effective = pipelines[name].engine.precision
        verdicts[name] = gates(effective, sets)
        if effective == FAST and scored:
            worse = worse_figures(scored[reference_name], scored[name])
            verdicts[name].append(
                (f"no accuracy figure worse ({'; '.join(worse) or 'none'})", not worse)
            )
        print(f"{name} (runs as {effective}):")
        for gate, holds in verdicts[name]:
            print(f"  {'PASS' if holds else 'FAIL'}  {gate}")
    save(
        "parity",
        {
            "rows": rows,
            "gates": verdicts,
            "one_pixel_moves": moved_worse,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
