"""The default pack's AgeGenderNet together with the cydral pack's networks, measured as issue 28
asks: the gender log-odds averaged, the two calibrated ages averaged, every constant (each
network's calibration, the combined estimate's spread) fitted on one half of congress and scored
on the other, and on utkface (evaluation only) with the fits on all of congress. It ships only if
it wins on both sets; bench.calibration.faceapi prints the table.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from bench.calibration import faceapi_fit as ff
from bench.calibration import scores as cs
from bench.calibration.cydral_outputs import SetOutputs, set_outputs
from bench.calibration.faceapi_outputs import FaceApiOutputs
from worker.models.cydral import gender_log_odds
from worker.options import SHIPPED

# z of the central 80% of a Gaussian: the combined estimate's interval, as the contract's.
Z80 = 1.2816
# Each contender: the weight of face-api's answer (years and gender log-odds) against Cydral's.
CONTENDERS = {"face-api alone": 1.0, "cydral alone": 0.0, "mean of both": 0.5}
HEADERS = ["set", "contender", "gender", "in range", "MAE*", "80% covers*", "median width*"]


@dataclasses.dataclass(frozen=True)
class Answers:
    """Both networks' calibrated years and male log-odds for the faces of one set."""

    faceapi_years: np.ndarray
    cydral_years: np.ndarray
    faceapi_log_odds: np.ndarray
    cydral_log_odds: np.ndarray

    def combined(self, weight: float) -> tuple[np.ndarray, np.ndarray]:
        years = weight * self.faceapi_years + (1 - weight) * self.cydral_years
        log_odds = weight * self.faceapi_log_odds + (1 - weight) * self.cydral_log_odds
        return years, log_odds


def answers(faceapi: FaceApiOutputs, cydral: SetOutputs, fitted_on: tuple) -> Answers:
    """Years under the calibrations fitted on `fitted_on` (face-api's and Cydral's outputs)."""
    faceapi_fit = dataclasses.replace(SHIPPED, **ff.fit_calibration(fitted_on[0]))
    cydral_fit = cs.fitted_options(fitted_on[1], SHIPPED)
    return Answers(
        ff.said(faceapi, faceapi_fit).years,
        cs.said(cydral, cydral_fit).years,
        ff.male_log_odds(faceapi.male),
        gender_log_odds(cydral.gender),
    )


def scores(
    outputs: FaceApiOutputs, years: np.ndarray, log_odds: np.ndarray, spread: tuple[float, float]
) -> list[float]:
    """Gender accuracy, in range (+-5 years), MAE, 80% coverage and median width (* against
    the exact ages or the House portraits' point guesses); a face not found is wrong."""
    found = outputs.found
    known = found & ~np.isnan(outputs.point)
    truth, estimate = outputs.point[known], years[known]
    sd = np.maximum(spread[0] + spread[1] * estimate, ff.MIN_SD)
    low, high = np.floor(estimate - Z80 * sd + 0.5), np.ceil(estimate + Z80 * sd - 0.5)
    right = found & ((log_odds > 0) == (outputs.genders == "male"))
    held = found & (years >= outputs.low - 5) & (years <= outputs.high + 5)
    return [
        float(right.mean()),
        float(held.mean()),
        float(np.abs(estimate - truth).mean()),
        float(((low <= truth) & (truth <= high)).mean()),
        float(np.median(high - low)),
    ]


def _spread(outputs: FaceApiOutputs, years: np.ndarray) -> tuple[float, float]:
    known = outputs.found & ~np.isnan(outputs.point)
    return ff.fit_age_spread(years[known], outputs.point[known])


def ensemble_rows(
    eval_dir: Path, congress: FaceApiOutputs, utk: FaceApiOutputs
) -> tuple[list[list[object]], bool]:
    """The table's rows and whether the mean of both wins on both sets."""
    cydral_congress, cydral_utk = (
        set_outputs(eval_dir, "congress"),
        set_outputs(eval_dir, "utkface"),
    )
    assert np.array_equal(cydral_congress.files, congress.files)
    assert np.array_equal(cydral_utk.files, utk.files)
    found = congress.found & cydral_congress.found
    by_half: dict[float, list[list[float]]] = {w: [] for w in CONTENDERS.values()}
    for half in cs.halves(congress.files.size):
        train = ~half & found
        on = (congress.subset(train), cydral_congress.subset(train))
        seen = answers(congress.subset(train), cydral_congress.subset(train), on)
        test = answers(congress.subset(half), cydral_congress.subset(half), on)
        for weight in CONTENDERS.values():
            spread = _spread(congress.subset(train), seen.combined(weight)[0])
            by_half[weight].append(scores(congress.subset(half), *test.combined(weight), spread))
    on_all = (congress.subset(found), cydral_congress.subset(found))
    everything = answers(congress.subset(found), cydral_congress.subset(found), on_all)
    on_utk = answers(utk, cydral_utk, on_all)
    rows: list[list[object]] = []
    results: dict[str, dict[float, list[float]]] = {"congress": {}, "utkface": {}}
    for name, weight in CONTENDERS.items():
        halves = by_half[weight]
        sizes = [int(h.sum()) for h in cs.halves(congress.files.size)]
        mean = [float(np.average([h[i] for h in halves], weights=sizes)) for i in range(5)]
        results["congress"][weight] = mean
        spread = _spread(congress.subset(found), everything.combined(weight)[0])
        results["utkface"][weight] = scores(utk, *on_utk.combined(weight), spread)
        for set_name in results:
            rows.append([set_name, name, *_cells(results[set_name][weight])])
    wins = all(_better(results[s][0.5], results[s][1.0]) for s in results)
    return rows, wins


def _better(ensemble: list[float], alone: list[float]) -> bool:
    """Better on the headline figures: gender and in range not lower, MAE lower."""
    return ensemble[0] >= alone[0] and ensemble[1] >= alone[1] and ensemble[2] < alone[2]


def _cells(values: list[float]) -> list[str]:
    gender, held, mae, covers, width = values
    return [f"{gender:.1%}", f"{held:.1%}", f"{mae:.2f}", f"{covers:.1%}", f"{width:.1f}"]
