"""The noise-aware accuracy gate of bench.accuracy.parity (issue 30). "No accuracy figure worse
than the reference" failed the reference itself when its boxes moved by one pixel: any
computation that is not bit-identical moves the figures by that much. So a variant's figure holds
when it is no worse than the worst of the reference and its four one-pixel-shifted runs, or when
a paired bootstrap interval of (variant - reference) over the photos contains 0 (or lies on the
better side).

Figures are computed per photo here (bench.accuracy.packs's figures are their means), so that
the bootstrap can pair them.
"""

from __future__ import annotations

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
from worker.faces import FaceBox
from worker.models.base import FaceDetector
from worker.pipeline import Pipeline

Faces = list[dict[str, Any]]
# One photo's value for a figure from its faces and its label row; nan where it does not count.
PhotoValue = Callable[[Faces, dict[str, str], Path], float]

BOOTSTRAP_ROUNDS = 2000
CONFIDENCE = 0.95


def _gender(faces: Faces, row: dict[str, str], folder: Path) -> float:
    return float(bool(faces) and faces[0]["gender"]["label"] == row["gender"])


def _in_range(faces: Faces, row: dict[str, str], folder: Path) -> float:
    low, high = accuracy.age_bounds(row)
    return float(bool(faces) and low - 5 <= faces[0]["age"]["years"] <= high + 5)


def _abs_error(faces: Faces, row: dict[str, str], folder: Path) -> float:
    truth = accuracy.true_age(folder, row)
    if not faces or truth is None:
        return float("nan")  # bench.accuracy.packs' MAE is over found faces with a known age
    return abs(faces[0]["age"]["years"] - truth)


def _not_found(faces: Faces, row: dict[str, str], folder: Path) -> float:
    return float(not faces)


def _count_right(faces: Faces, row: dict[str, str], folder: Path) -> float:
    return float(len(faces) == int(row["faces"]))


@dataclass(frozen=True, slots=True)
class Figure:
    name: str
    folder: str
    per_photo: PhotoValue
    higher_is_better: bool


FIGURES = (
    Figure("congress gender", "congress", _gender, True),
    Figure("congress in range", "congress", _in_range, True),
    Figure("congress MAE", "congress", _abs_error, False),
    Figure("congress not found", "congress", _not_found, False),
    Figure("utk gender", "utkface", _gender, True),
    Figure("utk MAE", "utkface", _abs_error, False),
    Figure("utk not found", "utkface", _not_found, False),
    Figure("groups exact", "groups", _count_right, True),
)

# Per figure, each photo's value (nan where the photo does not count).
Scores = dict[str, np.ndarray]


class ShiftedDetector:
    """The reference's detector with every box moved by (dx, dy) pixels."""

    def __init__(self, detector: FaceDetector, dx: int, dy: int) -> None:
        self.detector, self.dx, self.dy = detector, dx, dy

    def detect(self, image: np.ndarray, min_score: float) -> list[FaceBox]:
        return [
            dataclasses.replace(face, x=face.x + self.dx, y=face.y + self.dy)
            for face in self.detector.detect(image, min_score)
        ]


def moved_photo(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """The photo moved by (dx, dy) pixels (at most one), the uncovered edge repeating its
    neighbours."""
    height, width = image.shape[:2]
    padded = cv2.copyMakeBorder(image, 1, 1, 1, 1, cv2.BORDER_REPLICATE)
    return padded[1 - dy : 1 - dy + height, 1 - dx : 1 - dx + width]


class MovedPhotoDetector(ShiftedDetector):
    """The reference's detector on its photo moved by (dx, dy) pixels, its boxes moved back.
    Moving the boxes after detection keeps every score, so it never changes a face count; the
    detector's own input moving by a pixel does."""

    def detect(self, image: np.ndarray, min_score: float) -> list[FaceBox]:
        return [
            dataclasses.replace(face, x=face.x - self.dx, y=face.y - self.dy)
            for face in self.detector.detect(moved_photo(image, self.dx, self.dy), min_score)
        ]


def one_pixel_moves(pipeline: Pipeline, photo: bool = False) -> dict[str, accuracy.Analyse]:
    """The pipeline with its boxes (or the photo its detector sees) moved one pixel right, left,
    down and up."""
    moved: dict[str, accuracy.Analyse] = {}
    for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        shifted = copy.copy(pipeline)
        detector = MovedPhotoDetector if photo else ShiftedDetector
        shifted.detector = detector(pipeline.detector, dx, dy)
        name = f"{'photo' if photo else 'boxes'} moved ({dx:+d}, {dy:+d}) px"
        moved[name] = functools.cache(accuracy.readface(shifted))
    return moved


def photo_scores(analyse: accuracy.Analyse, eval_dir: Path) -> Scores:
    """Each figure's per-photo values for one analyser (each photo analysed once per folder)."""
    scores: Scores = {}
    for folder_name in sorted({figure.folder for figure in FIGURES}):
        folder = eval_dir / folder_name
        rows = accuracy.labels(folder)
        faces = [analyse(accuracy.photo_bytes(folder, row)) for row in rows]
        for figure in FIGURES:
            if figure.folder == folder_name:
                scores[figure.name] = np.array(
                    [figure.per_photo(f, row, folder) for f, row in zip(faces, rows, strict=True)]
                )
    return scores


def bootstrap_interval(
    variant: np.ndarray, reference: np.ndarray, rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0
) -> tuple[float, float]:
    """The CONFIDENCE interval of mean(variant - reference) over photos counted by both,
    resampling photos with replacement (paired: a photo's two values stay together)."""
    both = ~(np.isnan(variant) | np.isnan(reference))
    diff = (variant - reference)[both]
    if not len(diff) or not diff.any():
        return 0.0, 0.0
    picks = np.random.default_rng(seed).integers(0, len(diff), (rounds, len(diff)))
    means = diff[picks].mean(axis=1)
    tail = (1 - CONFIDENCE) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


@dataclass(frozen=True, slots=True)
class FigureVerdict:
    name: str
    value: float
    reference: float
    worst_noise: float  # the worst of the reference and its shifted runs
    interval: tuple[float, float]  # of (variant - reference)
    within_noise: bool
    interval_holds: bool

    @property
    def holds(self) -> bool:
        return self.within_noise or self.interval_holds

    def __str__(self) -> str:
        low, high = self.interval
        return (
            f"{self.name} {self.value:.4g} (reference {self.reference:.4g}, worst shifted "
            f"{self.worst_noise:.4g}; paired 95% interval [{low:+.4f}, {high:+.4f}])"
        )


def figure_verdicts(
    variant: Scores, reference: Scores, shifted: Sequence[Scores]
) -> list[FigureVerdict]:
    """Each figure of the variant against the reference's noise."""
    verdicts = []
    for figure in FIGURES:
        name, better = figure.name, figure.higher_is_better
        value = float(np.nanmean(variant[name]))
        runs = [float(np.nanmean(s[name])) for s in [reference, *shifted]]
        worst = min(runs) if better else max(runs)
        low, high = bootstrap_interval(variant[name], reference[name])
        verdicts.append(
            FigureVerdict(
                name=name,
                value=value,
                reference=runs[0],
                worst_noise=worst,
                interval=(low, high),
                within_noise=value >= worst if better else value <= worst,
                # containing 0, or wholly on the better side
                interval_holds=high >= 0 if better else low <= 0,
            )
        )
    return verdicts


def gate(verdicts: Sequence[FigureVerdict]) -> tuple[str, bool]:
    """The gate's line for bench.accuracy.parity: which figures fail, and whether all hold."""
    failing = [str(v) for v in verdicts if not v.holds]
    return (
        f"every accuracy figure within the reference's one-pixel noise or a paired interval "
        f"holding 0 ({'; '.join(failing) or 'all hold'})",
        not failing,
    )
