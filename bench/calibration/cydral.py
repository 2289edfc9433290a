"""How does the cydral pack's calibration score, fitted on congress? About 2 min (outputs cached).

The cydral pack's calibration (age map, age spread, gender temperature): fitted on the congress
portraits only (public domain), cross-validated on their halves, and scored on utkface, which is
for evaluation only (non-commercial licence: nothing shipped is fitted on it).

    python -m bench.calibration.cydral [--eval-dir DIR]

"before" is what shipped until issue 16 (the age map fitted on utkface, the landmark box on utkface
and congress); "after" is what ships. Congress rows score each half with a calibration fitted on
the other half; utkface rows use the fit on all of congress, i.e. what ships. Network outputs are
cached (bench/calibration/cydral_outputs.py), so a refit costs seconds. How each design choice was
made: `python -m bench.calibration.cydral_choices`.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from bench.accuracy import packs as accuracy
from bench.calibration import scores as cs
from bench.calibration.cydral_outputs import SetOutputs, set_outputs
from bench.common import EVAL_DIR, save, table
from worker.options import CYDRAL_CALIBRATION, SHIPPED

# The shipped age map undone (options to replace): the identity over the network's classes.
UNCALIBRATED: dict[str, Any] = {"age_knots": (0.0, 80.0), "age_calibrated": (0.0, 80.0)}
NONE = dataclasses.replace(SHIPPED, **UNCALIBRATED, age_spread=0.0, gender_temperature=1.0)
BEFORE = accuracy.BEFORE_ISSUE_16
SUMMARY = [
    "faces",
    "not found",
    "gender",
    "in range",
    "MAE*",
    "bias*",
    "covers*",
    "stated",
    "width",
]
ByCalibration = dict[str, cs.Said]  # by calibration: none, before, after


def _pct(value: float) -> str:
    return "-" if np.isnan(value) else f"{value:.1%}"


def _years(value: float, signed: bool = False) -> str:
    return "-" if np.isnan(value) else (f"{value:+.2f}" if signed else f"{value:.2f}")


def summary_cells(r: dict[str, Any]) -> list[object]:
    return [
        r["n"],
        r["not_found"],
        _pct(r["gender"]),
        _pct(r["in_range"]),
        _years(r["mae"]),
        _years(r["bias"], signed=True),
        _pct(r["covered"]),
        _pct(r["stated"]),
        _years(r["width"]),
    ]


def summary_table(congress: SetOutputs, utk: SetOutputs, said: dict[str, ByCalibration]) -> str:
    rows = []
    keeps = [*cs.halves(congress.files.size), None]
    parts = zip(("congress A", "congress B", "congress"), keeps, strict=True)
    for name, keep in parts:
        for calibration, s in said["congress"].items():
            rows.append([name, calibration, *summary_cells(cs.summary(congress, s, keep))])
    for calibration, s in said["utkface"].items():
        rows.append(["utkface", calibration, *summary_cells(cs.summary(utk, s))])
    return table(
        ["set", "calibration", *SUMMARY],
        rows,
        "Congress: each half scored with the calibration fitted on the other half; utkface\n"
        "(evaluation only): the fit on all of congress. in range: within the labelled range\n"
        "+-5 years (utkface: of the exact age). * against exact ages (utkface) or the House\n"
        "portraits' point guesses; covers: the 80% age.range holds the true age; stated: mean\n"
        "age.confidence; width: mean years from the range's low to its high end",
    )


def band_table(title: str, outputs: SetOutputs, said: ByCalibration) -> str:
    """Age error and interval coverage per true-age band and gender, per calibration."""
    rows = []
    for name, keep in [*cs.groups(outputs), ("all", np.ones(outputs.files.size, dtype=bool))]:
        known = keep & ~np.isnan(outputs.point)
        cells: list[object] = [name, int(known.sum())]
        for s in said.values():
            r = cs.summary(outputs, s, known)
            cells += [_years(r["mae"]), _years(r["bias"], True), _pct(r["covered"])]
            cells += [_pct(r["stated"]), _years(r["width"])]
        rows.append(cells)
    headers = ["true age", "n"]
    for calibration in said:
        headers += [f"MAE {calibration}", "bias", "covers", "stated", "width"]
    return table(headers, rows, title)


def reliability_table(said: dict[str, ByCalibration]) -> str:
    rows: list[list[object]] = []
    for set_name, by_calibration in said.items():
        for calibration, s in by_calibration.items():
            for r in cs.reliability(s):
                stated, observed = _pct(r["stated"]), _pct(r["observed"])
                rows.append([set_name, calibration, r["bin"], r["n"], stated, observed])
            ece = f"{cs.calibration_error(s):.2%}"
            rows.append([set_name, calibration, "ECE", "", "", ece])
    return table(
        ["set", "calibration", "gender.confidence", "n", "stated", "observed"],
        rows,
        "Gender reliability: stated confidence against observed accuracy in bins of stated\n"
        "confidence (congress out of fold); ECE: the bins' gaps weighted by their faces",
    )


def targets(
    congress: SetOutputs, utk: SetOutputs, said: dict[str, ByCalibration]
) -> list[list[object]]:
    """The issue's targets on ../shared/eval, after."""
    c = cs.summary(congress, said["congress"]["after"])
    u = cs.summary(utk, said["utkface"]["after"])
    biases = cs.band_biases(utk, said["utkface"]["after"])
    worst = max(biases, key=lambda band: abs(biases[band]))
    missed = c["not_found"] + u["not_found"]
    return [
        ["congress in range >= 75% (out of fold)", _pct(c["in_range"]), c["in_range"] >= 0.75],
        ["congress gender >= 98.5%", _pct(c["gender"]), c["gender"] >= 0.985],
        ["utkface MAE <= 6.6", _years(u["mae"]), u["mae"] <= 6.6],
        [
            "utkface bias within +-3 y in every band 10-60",
            f"{worst}: {biases[worst]:+.2f}",
            all(abs(b) <= cs.TARGET_BIAS for b in biases.values()),
        ],
        ["no face missed (congress, utkface)", f"{missed} missed", missed == 0],
    ]


def constants_table(fits: dict[str, dict[str, Any]]) -> str:
    rows = [
        [name, *(str(fit[field]) for field in sorted(CYDRAL_CALIBRATION))]
        for name, fit in fits.items()
    ]
    return table(
        ["", *sorted(CYDRAL_CALIBRATION)], rows, "Calibration constants: shipped and refitted"
    )


def _calibration(options: Any) -> dict[str, Any]:
    return {field: getattr(options, field) for field in sorted(CYDRAL_CALIBRATION)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
    args = parser.parse_args(argv)
    sets = {name: set_outputs(args.eval_dir, name) for name in ("congress", "utkface")}
    before = {name: set_outputs(args.eval_dir, name, BEFORE) for name in sets}
    congress, utk = sets["congress"], sets["utkface"]
    out_of_fold, half_fits = cs.out_of_fold(congress, SHIPPED)
    refit = cs.fitted_options(congress, SHIPPED)
    said = {
        "congress": {
            "none": cs.said(congress, NONE),
            "before": cs.said(before["congress"], BEFORE),
            "after": out_of_fold,
        },
        "utkface": {
            "none": cs.said(utk, NONE),
            "before": cs.said(before["utkface"], BEFORE),
            "after": cs.said(utk, SHIPPED),
        },
    }
    compared = {name: {k: v for k, v in by.items() if k != "none"} for name, by in said.items()}
    checks = targets(congress, utk, said)
    fits = {
        "shipped": _calibration(SHIPPED),
        "fitted on all congress today": _calibration(refit),
        "fitted on congress half A": _calibration(half_fits[1]),
        "fitted on congress half B": _calibration(half_fits[0]),
    }
    blocks = [
        summary_table(congress, utk, said),
        band_table(
            "utkface (evaluation only) by true age and gender: before (age map fitted on\n"
            "utkface, in sample) and after (fitted on congress)",
            utk,
            compared["utkface"],
        ),
        band_table(
            "congress by point guess (House) and gender: before, and after out of fold",
            congress,
            compared["congress"],
        ),
        reliability_table(compared),
        table(["target", "after", "met"], checks, "Issue 16's targets on ../shared/eval"),
        constants_table(fits),
    ]
    for block in blocks:
        print(block, end="\n\n")
    if _calibration(refit) != fits["shipped"]:
        print("note: the fit on congress today differs from the shipped constants\n")
    save("calibration", {"targets": checks, "fits": fits, "tables": blocks})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
