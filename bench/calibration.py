"""Age calibration on ../shared/eval: how biased the Cydral age estimate is, and whether a
calibration fitted on one half of the labelled faces holds on the other half and on the other set.

    python -m bench.calibration [--eval-dir DIR]

utkface rows alternate into halves A and B; each half is scored with maps fitted on the other.
A linear map (least squares) and a monotone one (isotonic regression sampled at the shipped
knots) are compared with no calibration and with the shipped map, which was fitted on all of
utkface (in-sample on its halves). The last line prints the monotone map fitted on all of
utkface today, to compare with the shipped one after the pipeline changes.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import isotonic_regression

from bench import accuracy
from bench.common import EVAL_DIR, save, table
from shared.settings import get_settings
from worker.options import SHIPPED
from worker.pipeline import load_pipeline

Calibration = Callable[[np.ndarray], np.ndarray]
# The shipped calibration undone (options to replace): the identity over the network's classes
# (0 to 80 years).
UNCALIBRATED: dict[str, Any] = {"age_knots": (0.0, 80.0), "age_calibrated": (0.0, 80.0)}
Faces = tuple[np.ndarray, np.ndarray]  # (uncalibrated estimates, true ages)


def raw_estimates(eval_dir: Path) -> dict[str, Faces]:
    """The network's age expectation (no calibration) and the truth, per face with a known age."""
    pipeline = load_pipeline(get_settings(), options=dataclasses.replace(SHIPPED, **UNCALIBRATED))
    sets = {}
    for name in ("utkface", "congress"):
        folder = eval_dir / name
        pairs = []
        for row in accuracy.labels(folder):
            truth = accuracy.true_age(folder, row)
            faces = pipeline.analyze(accuracy.photo_bytes(folder, row)).result["faces"]
            if truth is not None and faces:
                pairs.append((faces[0]["age"]["years"], truth))
        estimates, truths = np.array(pairs).T
        sets[name] = (estimates, truths)
    return sets


def linear(faces: Faces) -> Calibration:
    slope, intercept = np.polyfit(*faces, 1)
    return lambda years: slope * years + intercept


def monotone_knots(faces: Faces) -> np.ndarray:
    """Isotonic regression of true age on estimate, sampled at the shipped knots."""
    order = np.argsort(faces[0])
    fitted = isotonic_regression(faces[1][order]).x
    return np.interp(SHIPPED.age_knots, faces[0][order], fitted)


def monotone(faces: Faces) -> Calibration:
    calibrated = monotone_knots(faces)
    return lambda years: np.interp(years, SHIPPED.age_knots, calibrated)


def shipped(years: np.ndarray) -> np.ndarray:
    return np.interp(years, SHIPPED.age_knots, SHIPPED.age_calibrated)


def scores(calibrate: Calibration, faces: Faces) -> list[float]:
    """MAE, bias, and the bias of the youngest (< 20) and oldest (60+) true ages."""
    errors = calibrate(faces[0]) - faces[1]
    young, old = faces[1] < 20, faces[1] >= 60
    return [
        float(np.abs(errors).mean()),
        float(errors.mean()),
        float(errors[young].mean()) if young.any() else float("nan"),
        float(errors[old].mean()) if old.any() else float("nan"),
    ]


def half(faces: Faces, which: int) -> Faces:
    return faces[0][which::2], faces[1][which::2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
    args = parser.parse_args(argv)
    sets = raw_estimates(args.eval_dir)
    utk, congress = sets["utkface"], sets["congress"]
    rows: list[list[Any]] = []
    for which, other in ((0, 1), (1, 0)):
        scored, fitted_on = half(utk, which), half(utk, other)
        name = f"utkface half {'AB'[which]}"
        rows += [
            [name, "none", *scores(lambda y: y, scored)],
            [name, "shipped (all utkface)", *scores(shipped, scored)],
            [name, f"linear, fitted on {'AB'[other]}", *scores(linear(fitted_on), scored)],
            [name, f"monotone, fitted on {'AB'[other]}", *scores(monotone(fitted_on), scored)],
        ]
    rows += [
        ["congress", "none", *scores(lambda y: y, congress)],
        ["congress", "shipped (all utkface)", *scores(shipped, congress)],
        ["congress", "linear, fitted on utkface", *scores(linear(utk), congress)],
    ]
    print(
        table(
            ["faces", "calibration", "MAE", "bias", "bias < 20", "bias 60+"],
            rows,
            "Age error in years by calibration (estimate - truth)",
        )
    )
    refit = monotone_knots(utk)
    print(f"\nmonotone map fitted on all of utkface today: {np.round(refit, 2).tolist()}")
    save("calibration", {"rows": rows, "utkface_monotone_fit": refit.tolist()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
