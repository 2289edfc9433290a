"""Scoring cached network outputs under a calibration: what the contract would say for each face
(through worker/models/cydral.py's own `face_attributes`), and the figures the eval README asks
for, by age band, by gender and by stated gender confidence."""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.accuracy.packs import AGE_BANDS, band_name
from bench.calibration.cydral_outputs import SetOutputs
from bench.calibration.fit import fit_calibration
from worker.models.cydral import face_attributes
from worker.options import PipelineOptions

# The target: every band from 10 to 60 years within this bias on utkface.
TARGET_BANDS, TARGET_BIAS = ((10, 20), (20, 30), (30, 40), (40, 50), (50, 60)), 3.0
CONFIDENCE_BINS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)


@dataclass(frozen=True)
class Said:
    """Per face of a set, what the contract says (NaN where no face was found)."""

    years: np.ndarray
    low: np.ndarray  # age.range's ends
    high: np.ndarray
    held: np.ndarray  # age.confidence
    gender_right: np.ndarray  # bool; False where no face was found
    gender_confidence: np.ndarray


def said(outputs: SetOutputs, options: PipelineOptions) -> Said:
    rows = []
    for found, gender, age, truth in zip(
        outputs.found, outputs.gender, outputs.age, outputs.genders, strict=True
    ):
        if not found:
            rows.append((np.nan,) * 4 + (False, np.nan))
            continue
        face = face_attributes(gender, age, options)
        low, high = (float(v) for v in face.age_range.split("-"))
        right = face.gender == truth
        rows.append((face.age_years, low, high, face.age_confidence, right, face.gender_confidence))
    columns = list(zip(*rows, strict=True))
    return Said(*(np.array(c, dtype=bool if i == 4 else float) for i, c in enumerate(columns)))


def fitted_options(outputs: SetOutputs, base: PipelineOptions) -> PipelineOptions:
    """`base` with every calibration option fitted on these faces (those found)."""
    found = outputs.subset(outputs.found)
    fitted = fit_calibration(
        found.gender, found.age, found.genders == "male", found.low, found.high
    )
    return dataclasses.replace(base, **fitted)


def halves(n: int) -> list[np.ndarray]:
    """Two halves of a set: alternate rows (the labels are in bioguide order: by surname)."""
    return [np.arange(n) % 2 == which for which in (0, 1)]


def out_of_fold(outputs: SetOutputs, base: PipelineOptions) -> tuple[Said, list[PipelineOptions]]:
    """Each face scored with the calibration fitted on the other half, and both fits."""
    parts, fits = [], []
    for half in halves(outputs.files.size):
        options = fitted_options(outputs.subset(~half), base)
        parts.append((half, said(outputs.subset(half), options)))
        fits.append(options)
    merged = {}
    for field in dataclasses.fields(Said):
        column = np.empty(outputs.files.size, dtype=getattr(parts[0][1], field.name).dtype)
        for half, part in parts:
            column[half] = getattr(part, field.name)
        merged[field.name] = column
    return Said(**merged), fits


def summary(outputs: SetOutputs, s: Said, keep: np.ndarray | None = None) -> dict[str, Any]:
    """The README's figures on the faces kept (all by default)."""
    keep = np.ones(outputs.files.size, dtype=bool) if keep is None else keep
    known = keep & ~np.isnan(outputs.point) & ~np.isnan(s.years)
    errors = s.years[known] - outputs.point[known]
    years = s.years[keep]
    in_range = (years >= outputs.low[keep] - 5) & (years <= outputs.high[keep] + 5)
    covered = (s.low[known] <= outputs.point[known]) & (outputs.point[known] <= s.high[known])
    return {
        "n": int(keep.sum()),
        "not_found": int((keep & ~outputs.found).sum()),
        "gender": float(s.gender_right[keep].mean()),
        "in_range": float(in_range.mean()),
        "mae": float(np.abs(errors).mean()) if errors.size else float("nan"),
        "bias": float(errors.mean()) if errors.size else float("nan"),
        "covered": float(covered.mean()) if covered.size else float("nan"),
        "stated": float(np.nanmean(s.held[known])) if known.any() else float("nan"),
        "width": float(np.nanmean(s.high[known] - s.low[known])) if known.any() else float("nan"),
    }


def groups(outputs: SetOutputs) -> list[tuple[str, np.ndarray]]:
    """Faces by true age band (exact age or point guess) and by gender."""
    point = np.nan_to_num(outputs.point, nan=-1.0)
    bands = [(band_name(lo, hi), (point >= lo) & (point < hi)) for lo, hi in AGE_BANDS]
    by_gender = [(g, outputs.genders == g) for g in ("female", "male")]
    return [(name, keep) for name, keep in bands + by_gender if keep.any()]


def reliability(s: Said) -> list[dict[str, Any]]:
    """Stated gender confidence against observed accuracy, in bins of stated confidence."""
    rows = []
    stated = np.nan_to_num(s.gender_confidence, nan=-1.0)
    for low, high in itertools.pairwise(CONFIDENCE_BINS):
        keep = (stated >= low) & ((stated < high) if high < 1.0 else (stated <= high))
        if keep.any():
            rows.append(
                {
                    "bin": f"{low:.2f}-{high:.2f}",
                    "n": int(keep.sum()),
                    "stated": float(stated[keep].mean()),
                    "observed": float(s.gender_right[keep].mean()),
                }
            )
    return rows


def calibration_error(s: Said) -> float:
    """Expected calibration error of gender.confidence: the bins' |stated - observed|, weighted
    by how many faces each holds."""
    rows = reliability(s)
    total = sum(r["n"] for r in rows)
    return sum(r["n"] * abs(r["stated"] - r["observed"]) for r in rows) / total


def band_biases(outputs: SetOutputs, s: Said) -> dict[str, float]:
    """Bias per target band (utkface's 10 to 60 years)."""
    result = {}
    for lo, hi in TARGET_BANDS:
        keep = (outputs.point >= lo) & (outputs.point < hi)
        result[f"{lo}-{hi}"] = summary(outputs, s, keep)["bias"]
    return result
