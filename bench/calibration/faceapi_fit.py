"""Fitting and scoring the default pack's calibration (face-api's AgeGenderNet) from cached network
outputs, on the congress portraits only (public domain): the age map (bench/calibration/fit.py's
inverse response curve), the spread of the true age around the estimate as a function of the
estimate, and the temperature of P(male). `python -m bench.calibration.faceapi` shows the choices
and scores them out of fold; the values ship in worker/options.py.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from scipy.optimize import minimize, minimize_scalar

from bench.calibration import fit
from bench.calibration.faceapi_outputs import FaceApiOutputs
from bench.calibration.scores import Said, halves
from worker.models.faceapi import face_attributes
from worker.options import PipelineOptions

# The spread's line may not fall below this many years anywhere (a handful of faces could
# otherwise fit a spread of almost nothing).
MIN_SD = 0.5


def fit_age_spread(years: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(base, slope) of sd = base + slope * estimate (slope >= 0), by maximum likelihood of the
    residuals truth - estimate under a Gaussian of that sd: the House portraits' point guesses
    against the calibrated estimates."""
    residuals = truth - years

    def nll(params: np.ndarray) -> float:
        sd = np.maximum(params[0] + params[1] * years, MIN_SD)
        return float(np.sum(np.log(sd) + 0.5 * (residuals / sd) ** 2))

    best = minimize(
        nll, np.array([5.0, 0.01]), method="L-BFGS-B", bounds=[(MIN_SD, 30.0), (0.0, 1.0)]
    )
    return round(float(best.x[0]), 3), round(float(best.x[1]), 4)


def male_log_odds(male: np.ndarray) -> np.ndarray:
    clipped = np.clip(male, 1e-7, 1 - 1e-7)
    return np.asarray(np.log(clipped) - np.log1p(-clipped))


def fit_temperature(log_odds: np.ndarray, male: np.ndarray) -> float:
    """The temperature T minimising the cross-entropy of sigmoid(log_odds / T) against Platt's
    smoothed targets ((N+ + 1) / (N+ + 2) for men, 1 / (N- + 2) for women): on congress the
    network is right on every face, and plain likelihood then drives T to 0 (certainty)."""
    men, women = int(male.sum()), int((~male).sum())
    target = np.where(male, (men + 1) / (men + 2), 1 / (women + 2))

    def loss(log_t: float) -> float:
        z = log_odds / np.exp(log_t)
        return float(np.sum(target * np.logaddexp(0.0, -z) + (1 - target) * np.logaddexp(0.0, z)))

    return float(np.exp(minimize_scalar(loss, bounds=(-3.0, 3.0), method="bounded").x))


def fit_calibration(outputs: FaceApiOutputs, age_map: bool = True) -> dict[str, Any]:
    """Every face-api calibration option (PipelineOptions fields) from the faces found."""
    faces = outputs.subset(outputs.found)
    if age_map:
        knots, calibrated = fit.fit_age_map(faces.age, faces.low, faces.high, ceiling=None)
    else:
        knots, calibrated = (0.0, 100.0), (0.0, 100.0)
    years = np.clip(np.interp(faces.age, knots, calibrated), 0.0, 100.0)
    guessed = ~np.isnan(faces.point)
    return {
        "faceapi_age_knots": knots,
        "faceapi_age_calibrated": calibrated,
        "faceapi_age_spread": fit_age_spread(years[guessed], faces.point[guessed]),
        "faceapi_gender_temperature": round(
            fit_temperature(male_log_odds(faces.male), faces.genders == "male"), 3
        ),
    }


def said(outputs: FaceApiOutputs, options: PipelineOptions) -> Said:
    """Per face, what the contract says under `options` (NaN where no face was found)."""
    rows = []
    for found, age, male, truth in zip(
        outputs.found, outputs.age, outputs.male, outputs.genders, strict=True
    ):
        if not found:
            rows.append((np.nan,) * 4 + (False, np.nan))
            continue
        face = face_attributes(float(age), float(male), options)
        low, high = (float(v) for v in face.age_range.split("-"))
        rows.append(
            (
                face.age_years,
                low,
                high,
                face.age_confidence,
                face.gender == truth,
                face.gender_confidence,
            )
        )
    columns = list(zip(*rows, strict=True))
    return Said(*(np.array(c, dtype=bool if i == 4 else float) for i, c in enumerate(columns)))


def out_of_fold(
    outputs: FaceApiOutputs, base: PipelineOptions, age_map: bool = True
) -> tuple[Said, list[PipelineOptions]]:
    """Each half scored with the calibration fitted on the other half, and both fits."""
    merged = {f.name: np.empty(outputs.files.size) for f in dataclasses.fields(Said)}
    merged["gender_right"] = np.zeros(outputs.files.size, dtype=bool)
    fits = []
    for half in halves(outputs.files.size):
        options = dataclasses.replace(base, **fit_calibration(outputs.subset(~half), age_map))
        part = said(outputs.subset(half), options)
        for name, column in merged.items():
            column[half] = getattr(part, name)
        fits.append(options)
    return Said(**merged), fits
