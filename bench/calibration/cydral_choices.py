"""Where does each fitted constant of the cydral pack come from? About 2 min (outputs cached).

Where the cydral pack's fitted constants come from, measured on the congress portraits only
(public domain; worker/options.py cites these tables). utkface is never used here.

    python -m bench.calibration.cydral_choices [--eval-dir DIR]

Landmark box: res10's box against dlib's HOG box on the same faces. res10 filters: the shape of
real faces' boxes, and how far res10's corner phantom overhangs the frame. Chip paddings, age-map
knots, the age spread's form and the gender temperature: each fitted on one half of congress and
scored on the other. The closer look at weak candidates: composites of shrunken portraits.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import cv2
import dlib
import numpy as np
from scipy.optimize import minimize_scalar

from bench.accuracy import packs as accuracy
from bench.calibration import fit
from bench.calibration import scores as cs
from bench.calibration.cydral_outputs import SetOutputs, set_outputs
from bench.common import EVAL_DIR, save, table
from shared.settings import get_settings
from worker.models.cydral import CYDRAL_AGE_YEARS, gender_log_odds, spread_kernel
from worker.models.res10 import DETECTOR_INPUT, DETECTOR_MEAN
from worker.options import SHIPPED
from worker.pipeline import Pipeline, load_pipeline
from worker.shrink import shrink


def portraits(eval_dir: Path) -> list[np.ndarray]:
    folder = eval_dir / "congress"
    return [cv2.imread(str(folder / row["file"])) for row in accuracy.labels(folder)]


def raw_boxes(pipeline: Pipeline, image: np.ndarray) -> np.ndarray:
    """res10's rows (image, class, score, x1, y1, x2, y2; relative, unclipped) on the whole
    image, before any filter, down to the closer look's floor."""
    shrunk = shrink(image, DETECTOR_INPUT)
    blob = cv2.dnn.blobFromImage(shrunk, 1.0, DETECTOR_INPUT, DETECTOR_MEAN)
    rows = pipeline.detector.network.detections(blob, SHIPPED.candidate_score)  # type: ignore[attr-defined]
    return rows[rows[:, 2] >= SHIPPED.candidate_score]


def detector_rows(pipeline: Pipeline, images: list[np.ndarray]) -> list[list[object]]:
    """The landmark-box fit (median HOG box relative to res10's) and the filters' margins."""
    hog = dlib.get_frontal_face_detector()
    offsets, aspects, phantoms, real_overhang = [], [], [], []
    for image in images:
        [face, *_] = pipeline.detector.detect(image, 0.5)
        aspects.append(face.height / face.width)
        side = (face.width + face.height) / 2
        found = hog(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), 1)
        if found:
            box = max(found, key=lambda r: r.area())
            dx = (box.left() + box.right() + 1) / 2 - (face.x + face.width / 2)
            dy = (box.top() + box.bottom() + 1) / 2 - (face.y + face.height / 2)
            offsets.append((dx / side, dy / side, box.width() / side))
        # Every raw box at the closer look's floor: how far it overhangs two adjacent edges.
        for _, _, score, x1, y1, x2, y2 in raw_boxes(pipeline, image):
            overhang = min(max(-x1, x2 - 1), max(-y1, y2 - 1))
            held = abs((x1 + x2) / 2 * image.shape[1] - (face.x + face.width / 2)) < side / 4
            (real_overhang if held else phantoms).append((overhang, score))
    shift = np.median(offsets, axis=0)
    beyond = [o for o, _ in phantoms if o > 0]
    return [
        ["faces where both detectors fire", f"{len(offsets)} of {len(images)}"],
        ["HOG box centre - res10's, in res10 sides (x, y)", f"({shift[0]:.4f}, {shift[1]:.4f})"],
        ["HOG box side / res10's mean side", f"{shift[2]:.4f}"],
        ["height / width of res10's face boxes", f"{min(aspects):.2f} to {max(aspects):.2f}"],
        ["real faces' largest two-edge overhang", f"{max(o for o, _ in real_overhang):+.4f}"],
        ["boxes overhanging two edges (phantoms)", str(len(beyond))],
        ["the phantoms' smallest overhang", f"{min(beyond):.4f}"],
    ]


def padding_rows(congress: SetOutputs) -> list[list[object]]:
    """Gender accuracy and out-of-fold age in range per chip set (cached views 0.15, 0.2)."""
    rows = []
    for name, views in (("0.15", [0]), ("0.2 (dlib's)", [1]), ("0.15 and 0.2", [0, 1])):
        faces = dataclasses.replace(
            congress,
            gender_views=congress.gender_views[:, views],
            age_views=congress.age_views[:, views],
        )
        said, _ = cs.out_of_fold(faces, SHIPPED)
        r = cs.summary(faces, said)
        rows.append([name, f"{r['gender']:.1%}", f"{r['in_range']:.1%}", f"{r['mae']:.2f}"])
    return rows


def _cuts(n: int, splits: int = 5) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [*cs.halves(n)[:1], *(rng.permutation(n) < n // 2 for _ in range(splits))]


def knot_rows(congress: SetOutputs) -> list[list[object]]:
    """Held-out years outside the labelled range per face, by knot spacing from 25 years."""
    estimates, rows = congress.age @ CYDRAL_AGE_YEARS, []
    for step in (5, 10, 15, 20, 60):
        knots = (0.0, *np.arange(25.0, 85.1, step).tolist())
        losses = []
        for cut in _cuts(estimates.size):
            for train in (cut, ~cut):
                age_map = fit.fit_age_map(
                    estimates[train], congress.low[train], congress.high[train], knots
                )
                years = np.round(np.interp(estimates[~train], *age_map), 1)
                outside = np.maximum(
                    congress.low[~train] - years, years - congress.high[~train] - 1
                )
                losses.append(np.maximum(outside, 0.0).mean())
        rows.append(
            [f"every {step} y" if step < 60 else "25 and 85 only", f"{np.mean(losses):.3f}"]
        )
    return rows


def _tempered(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    flat = np.clip(probabilities, 1e-30, None) ** (1 / temperature)
    return flat / flat.sum(axis=1, keepdims=True)


def _in_years(probabilities: np.ndarray, years: float) -> np.ndarray:
    classes = CYDRAL_AGE_YEARS
    kernel = np.exp(-0.5 * ((classes[:, None] - classes[None, :]) / years) ** 2)
    return probabilities @ (kernel / kernel.sum(axis=0)).T


def spread_rows(congress: SetOutputs) -> list[list[object]]:
    """Held-out negative log-likelihood of the labelled ranges per face, by spread form."""
    forms = {
        "none": (lambda p, _: p, (1.0, 1.0)),
        "temperature on the softmax": (_tempered, (0.5, 20.0)),
        "Gaussian in years": (_in_years, (0.1, 30.0)),
        "Gaussian in log(1 + years) (shipped)": (
            lambda p, s: p @ spread_kernel(s).T,
            fit.SPREAD_BOUNDS,
        ),
    }
    rows = []
    for name, (spread, bounds) in forms.items():
        losses = []
        for cut in _cuts(congress.files.size):
            for train in (cut, ~cut):
                a, b = congress.subset(train), congress.subset(~train)
                age_map = fit.fit_age_map(a.age @ CYDRAL_AGE_YEARS, a.low, a.high)
                edges = np.interp(fit.CLASS_EDGES, *age_map)

                def nll(s: float, faces: SetOutputs, spread=spread, edges=edges) -> float:
                    return float(
                        fit.range_nll(spread(faces.age, s), edges, faces.low, faces.high).mean()
                    )

                best = minimize_scalar(nll, bounds=bounds, args=(a,), method="bounded").x
                losses.append(nll(best, b))
        rows.append([name, f"{np.mean(losses):.4f}"])
    return rows


def temperature_rows(congress: SetOutputs) -> list[list[object]]:
    log_odds, male = gender_log_odds(congress.gender), congress.genders == "male"
    rows = [["all of congress", f"{fit.fit_temperature(log_odds, male):.3f}"]]
    for name, half in zip(("half A", "half B"), cs.halves(log_odds.size), strict=True):
        rows.append([name, f"{fit.fit_temperature(log_odds[half], male[half]):.3f}"])
    return rows


def composites(images: list[np.ndarray], width: int, count: int = 8) -> list[np.ndarray]:
    """1600x1000 scenes of six portraits each, shrunk to about `width` pixels wide."""
    rng = np.random.default_rng(width)
    scenes = []
    for _ in range(count):
        scene = np.full((1000, 1600, 3), int(rng.integers(60, 200)), np.uint8)
        for slot, pick in enumerate(rng.choice(len(images), 6, replace=False)):
            image = images[pick]
            w = int(width * rng.uniform(0.8, 1.2))
            h = image.shape[0] * w // image.shape[1]
            x = slot % 3 * 530 + int(rng.integers(0, 530 - w))
            y = slot // 3 * 500 + int(rng.integers(0, 500 - h))
            scene[y : y + h, x : x + w] = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
        scenes.append(scene)
    return scenes


def closer_look_rows(images: list[np.ndarray]) -> list[list[object]]:
    settings = get_settings()
    variants = [(f"from {floor}", {"candidate_score": floor}) for floor in (0.3, 0.2, 0.1)]
    variants.insert(0, ("none", {"candidate_score": 1.0}))
    around = [
        ("from 0.2, crop 2 sides", {"verify_context": 2.0}),
        ("from 0.2, crop 3 sides", {"verify_context": 3.0}),
        ("from 0.2, at 150x150", {"verify_input": (150, 150)}),
        ("from 0.2, at 300x300", {"verify_input": (300, 300)}),
    ]
    rows = []
    for width in (120, 160, 200):
        scenes = composites(images, width)
        for name, change in variants + (around if width == 160 else []):
            options = dataclasses.replace(SHIPPED, **change)
            pipeline = load_pipeline(settings, "cydral", verified=True, options=options)
            started = time.perf_counter()
            found = sum(len(pipeline.detector.detect(s, settings.min_face_score)) for s in scenes)
            ms = (time.perf_counter() - started) * 1000 / len(scenes)
            rows.append([f"{width} px", name, f"{found}/{6 * len(scenes)}", f"{ms:.0f}"])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    images = portraits(args.eval_dir)
    congress = set_outputs(args.eval_dir, "congress")
    pipeline = load_pipeline(get_settings(), "cydral")
    blocks = [
        table(["res10 on congress", ""], detector_rows(pipeline, images), "Detector geometry"),
        table(
            ["chips", "gender", "in range (out of fold)", "MAE (guess, out of fold)"],
            padding_rows(congress),
            "Chip paddings on congress",
        ),
        table(["knots", "held-out years outside range"], knot_rows(congress), "Age-map knots"),
        table(["age spread", "held-out NLL per face"], spread_rows(congress), "Age spread form"),
        table(["fitted on", "temperature"], temperature_rows(congress), "Gender temperature"),
        table(
            ["portraits", "closer look", "faces found", "ms per scene"],
            closer_look_rows(images),
            f"Closer look at weak candidates: scenes of shrunken congress portraits "
            f"(whole-image pass at {DETECTOR_INPUT[0]}x{DETECTOR_INPUT[1]})",
        ),
    ]
    for block in blocks:
        print(block, end="\n\n")
    save("calibration_choices", {"tables": blocks})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
