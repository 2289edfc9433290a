"""How does the default pack's calibration score, choice by choice? About 2 min (outputs cached).

The default pack's calibration (face-api's AgeGenderNet): each choice measured on the congress
portraits (public domain) with everything fitted on one half and scored on the other, then the
shipped calibration scored the same way and on utkface (evaluation only, non-commercial licence:
nothing shipped is fitted on it), the 80% age ranges by band, gender reliability, the ensemble
with the cydral pack's networks, and issue 28's targets.

    python -m bench.calibration.faceapi [--eval-dir DIR]

Network outputs are cached (bench/calibration/faceapi_outputs.py), so a refit costs seconds. The
cydral pack's own calibration: `python -m bench.calibration.cydral`.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize

from bench.calibration import ensemble
from bench.calibration import faceapi_fit as ff
from bench.calibration import scores as cs
from bench.calibration.faceapi_outputs import CANDIDATE_PADDINGS, FaceApiOutputs, faceapi_outputs
from bench.common import EVAL_DIR, save, table
from worker.options import FACEAPI_CALIBRATION, SHIPPED

NONE = dataclasses.replace(
    SHIPPED,
    faceapi_age_knots=(0.0, 100.0),
    faceapi_age_calibrated=(0.0, 100.0),
    faceapi_gender_temperature=1.0,
)
FIELDS = sorted(FACEAPI_CALIBRATION)


def _pct(value: float) -> str:
    return "-" if np.isnan(value) else f"{value:.1%}"


def _median_width(s: cs.Said, keep: np.ndarray) -> float:
    widths = (s.high - s.low)[keep & ~np.isnan(s.years)]
    return float(np.median(widths)) if widths.size else float("nan")


def figures(outputs: FaceApiOutputs, s: cs.Said, keep: np.ndarray | None = None) -> list[object]:
    """gender, in range, MAE*, 80% covers*, stated, median width* (* the faces with a known age)."""
    keep = np.ones(outputs.files.size, dtype=bool) if keep is None else keep
    r = cs.summary(outputs, s, keep)
    known = keep & ~np.isnan(outputs.point)
    width = _median_width(s, known)
    return [
        _pct(r["gender"]),
        _pct(r["in_range"]),
        f"{r['mae']:.2f}",
        _pct(r["covered"]),
        _pct(r["stated"]),
        f"{width:.0f}",
    ]


FIGURES = ["gender", "in range", "MAE*", "80% covers*", "stated", "median width*"]


def padding_rows(congress: FaceApiOutputs) -> list[list[object]]:
    singles = [(p,) for p in CANDIDATE_PADDINGS]
    pairs = [(0.2, 0.25), (0.2, 0.3), (0.25, 0.3), (0.2, 0.25, 0.3)]
    rows = []
    for paddings in singles + pairs:
        faces = congress.chips(paddings)
        said, _ = ff.out_of_fold(faces, SHIPPED)
        label = ", ".join(str(p) for p in paddings)
        rows.append([label, len(paddings), *figures(faces, said)])
    return rows


def map_rows(congress: FaceApiOutputs, utk: FaceApiOutputs) -> list[list[object]]:
    rows = []
    for name, age_map in (("none", False), ("fitted (shipped)", True)):
        said, _ = ff.out_of_fold(congress, SHIPPED, age_map)
        fitted = dataclasses.replace(SHIPPED, **ff.fit_calibration(congress, age_map))
        rows.append(["congress", name, *figures(congress, said)])
        rows.append(["utkface", name, *figures(utk, ff.said(utk, fitted))])
    return rows


def spread_rows(congress: FaceApiOutputs) -> list[list[object]]:
    """Held-out Gaussian NLL of the point guesses' residuals per face, by the spread's form."""
    forms = {
        "constant": lambda p, e: np.full_like(e, p[0]),
        "a share of the estimate": lambda p, e: p[0] * e / 50,
        "base + slope * estimate (shipped)": lambda p, e: p[0] + abs(p[1]) * e,
    }
    rows = []
    for name, form in forms.items():
        losses = []
        for half in cs.halves(congress.files.size):
            parts = []
            for keep in (~half, half):
                said = ff.said(congress.subset(keep), SHIPPED)
                known = ~np.isnan(congress.point[keep])
                parts.append((said.years[known], congress.point[keep][known]))
            (e, t), (e2, t2) = parts

            def nll(p: np.ndarray, e=e, t=t, form=form) -> float:
                sd = np.maximum(form(p, e), ff.MIN_SD)
                return float(np.mean(np.log(sd) + 0.5 * ((t - e) / sd) ** 2))

            best = minimize(nll, np.array([6.0, 0.01]), method="Nelder-Mead").x
            losses.append(nll(best, e2, t2))
        rows.append([name, f"{np.mean(losses):.4f}"])
    return rows


def band_rows(outputs: FaceApiOutputs, s: cs.Said) -> list[list[object]]:
    rows = []
    everyone = ("all", np.ones(outputs.files.size, dtype=bool))
    for name, keep in [*cs.groups(outputs), everyone]:
        known = keep & ~np.isnan(outputs.point)
        r = cs.summary(outputs, s, known)
        rows.append(
            [
                name,
                int(known.sum()),
                f"{r['mae']:.2f}",
                f"{r['bias']:+.2f}",
                _pct(r["covered"]),
                _pct(r["stated"]),
                f"{_median_width(s, known):.0f}",
            ]
        )
    return rows


def reliability_rows(said: dict[str, cs.Said]) -> list[list[object]]:
    rows: list[list[object]] = []
    for set_name, s in said.items():
        for r in cs.reliability(s):
            rows.append([set_name, r["bin"], r["n"], _pct(r["stated"]), _pct(r["observed"])])
        rows.append([set_name, "ECE", "", "", f"{cs.calibration_error(s):.2%}"])
    return rows


def targets(congress: FaceApiOutputs, utk: FaceApiOutputs, said: dict[str, cs.Said]) -> list:
    c = cs.summary(congress, said["congress"])
    u = cs.summary(utk, said["utkface"])
    width = _median_width(said["congress"], ~np.isnan(congress.point))
    missed = c["not_found"] + u["not_found"]
    return [
        ["utkface age MAE <= 5.0", f"{u['mae']:.2f}", u["mae"] <= 5.0],
        ["utkface gender >= 90%", _pct(u["gender"]), u["gender"] >= 0.90],
        ["congress in range >= 80% (out of fold)", _pct(c["in_range"]), c["in_range"] >= 0.80],
        ["congress gender >= 99% (out of fold)", _pct(c["gender"]), c["gender"] >= 0.99],
        ["congress 80% ranges hold 78-85%", _pct(c["covered"]), 0.78 <= c["covered"] <= 0.85],
        ["congress median range width <= 16", f"{width:.0f}", width <= 16],
        ["no face missed (congress, utkface)", f"{missed} missed", missed == 0],
    ]


def constants(congress: FaceApiOutputs, fits: list[Any]) -> list[list[object]]:
    refit = ff.fit_calibration(congress)
    rows = [["shipped", *(str(getattr(SHIPPED, f)) for f in FIELDS)]]
    rows.append(["fitted on all congress today", *(str(refit[f]) for f in FIELDS)])
    for name, options in zip(("fitted on half B", "fitted on half A"), fits, strict=True):
        rows.append([name, *(str(getattr(options, f)) for f in FIELDS)])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
    args = parser.parse_args(argv)
    every_chip = faceapi_outputs(args.eval_dir, "congress")
    congress = every_chip.chips(SHIPPED.faceapi_paddings)
    utk = faceapi_outputs(args.eval_dir, "utkface").chips(SHIPPED.faceapi_paddings)
    out_of_fold, fits = ff.out_of_fold(congress, SHIPPED)
    said = {"congress": out_of_fold, "utkface": ff.said(utk, SHIPPED)}
    summary = []
    for name, keep in zip(
        ("congress A", "congress B"), cs.halves(congress.files.size), strict=True
    ):
        summary.append(
            [name, "shipped, fitted on the other half", *figures(congress, out_of_fold, keep)]
        )
    summary.append(["congress", "none", *figures(congress, ff.said(congress, NONE))])
    summary.append(["congress", "shipped, out of fold", *figures(congress, out_of_fold)])
    summary.append(["utkface", "none", *figures(utk, ff.said(utk, NONE))])
    summary.append(["utkface", "shipped", *figures(utk, said["utkface"])])
    ensemble_table, ensemble_wins = ensemble.ensemble_rows(args.eval_dir, congress, utk)
    blocks = [
        table(
            ["paddings", "chips", *FIGURES],
            padding_rows(every_chip),
            "Chips per face (congress, age map and spread fitted out of fold)",
        ),
        table(
            ["set", "age map", *FIGURES],
            map_rows(congress, utk),
            "Age map (congress out of fold; utkface with the fit on all congress)",
        ),
        table(
            ["spread form", "held-out NLL per face"],
            spread_rows(congress),
            "The true age's spread around the estimate (House point guesses)",
        ),
        table(
            ["set", "calibration", *FIGURES],
            summary,
            "Shipped calibration (* against exact ages or the House point guesses)",
        ),
        table(
            ["true age", "n", "MAE", "bias", "80% covers", "stated", "median width"],
            band_rows(congress, out_of_fold),
            "Congress by point guess, out of fold",
        ),
        table(
            ["true age", "n", "MAE", "bias", "80% covers", "stated", "median width"],
            band_rows(utk, said["utkface"]),
            "utkface by true age (evaluation only)",
        ),
        table(
            ["set", "gender.confidence", "n", "stated", "observed"],
            reliability_rows(said),
            "Gender reliability (congress out of fold)",
        ),
        table(
            ensemble.HEADERS,
            ensemble_table,
            "Ensemble with the cydral pack's networks (congress out of fold)",
        ),
        f"ensemble kept: {'yes' if ensemble_wins else 'no'} (it must win on both sets)",
        table(["target", "shipped", "met"], targets(congress, utk, said), "Issue 28's targets"),
        table(["", *FIELDS], constants(congress, fits), "Calibration constants"),
    ]
    for block in blocks:
        print(block, end="\n\n")
    save("calibration", {"tables": blocks, "ensemble_kept": ensemble_wins})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
