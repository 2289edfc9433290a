"""Fitting the cydral pack's calibration from network outputs and interval labels: the congress
portraits (public domain) give each member's age as a range of whole years, since the photo's date
is unknown. `python -m bench.calibration.cydral` fits and scores it; the values ship in
worker/options.py. The default pack's age map is fitted the same way
(bench/calibration/faceapi_fit.py).

The age map is the inverse of the network's response curve g (true age -> age expectation), fitted
so that each face's expectation falls between g(low) and g(high + 1): the loss is zero inside and
grows linearly outside. The inverse, not a regression of true age on the estimate, because such a
regression learns the ages of the people it was fitted on (congress has nobody under 25 and a mean
near 58) and pulls every estimate towards them; the response curve is a property of the network,
so its inverse holds whoever is in the photos.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import linprog, minimize_scalar

from worker.models.cydral import CYDRAL_AGE_YEARS, gender_log_odds, spread_kernel

# Response-curve knots (true ages) every 15 years: on congress, fitted on one half and scored on
# the other (11 splits), knots every 15 years lost 3.12 years per face outside its range, every 10
# 3.12, every 5 3.15, every 20 3.16, a straight line 4.11.
AGE_KNOTS = (0.0, 25.0, 40.0, 55.0, 70.0, 85.0)
# The youngest congress range starts at 25: below, the labels say nothing, and the map keeps the
# network's estimate (the identity).
IDENTITY_BELOW = 25.0
# The response curve may not rise slower than this (years of estimate per year of age), so its
# inverse stays defined and at most doubles the estimate's noise.
MIN_RESPONSE_SLOPE = 0.5
# Among maps that fit equally well (wide ranges constrain little), the one nearest the identity:
# this weight per knot, relative to one face's loss, breaks the ties.
IDENTITY_PULL = 1e-3
OLDEST_CLASS = float(CYDRAL_AGE_YEARS[-1])
# Where fit_age_spread looks for the spread (log(1 + years)): from almost none to far wider than
# any fit (0.14 to 0.18 on congress).
SPREAD_BOUNDS = (0.005, 2.0)
# Age class k of the network covers [k - 0.5, k + 0.5) years (class 0: [0, 0.5)).
CLASS_EDGES = np.concatenate([[0.0], np.arange(0.5, CYDRAL_AGE_YEARS.size, 1.0)])


def interp_weights(x: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """Rows of weights w such that w @ values = np.interp(x, knots, values) (x clipped)."""
    x = np.clip(np.asarray(x, dtype=np.float64), knots[0], knots[-1])
    segment = np.clip(np.searchsorted(knots, x, side="right") - 1, 0, knots.size - 2)
    along = (x - knots[segment]) / (knots[segment + 1] - knots[segment])
    weights = np.zeros((x.size, knots.size))
    weights[np.arange(x.size), segment] = 1 - along
    weights[np.arange(x.size), segment + 1] = along
    return weights


def _interval_fit(
    below: tuple[np.ndarray, np.ndarray],
    above: tuple[np.ndarray, np.ndarray],
    knots: np.ndarray,
    min_slope: float,
    ceiling: float | None,
) -> np.ndarray:
    """Values v at the knots minimising the summed loss max(0, B v - b, A v - a) over the faces
    (below = (B, b), above = (A, a)), with v rising at least min_slope per unit of knot, at most
    `ceiling`, v = knot at knots up to IDENTITY_BELOW, and the identity pull as tie-break (a
    linear programme)."""
    n, m = below[1].size, knots.size
    # Variables: v (m), each face's loss (n), |v - knots| (m).
    cost = np.concatenate([np.zeros(m), np.ones(n), np.full(m, IDENTITY_PULL * n / m)])
    rise = np.eye(m - 1, m, 1) - np.eye(m - 1, m)
    faces, knot_rows = np.hstack([-np.eye(n), np.zeros((n, m))]), np.zeros((m, n))
    rows = [
        (np.hstack([below[0], faces]), below[1]),
        (np.hstack([above[0], faces]), above[1]),
        (np.hstack([np.eye(m), knot_rows, -np.eye(m)]), knots),
        (np.hstack([-np.eye(m), knot_rows, -np.eye(m)]), -knots),
        (np.hstack([-rise, np.zeros((m - 1, n + m))]), -min_slope * np.diff(knots)),
    ]
    bounds = [(k, k) if k <= IDENTITY_BELOW else (None, ceiling) for k in knots]
    solution = linprog(
        cost,
        A_ub=np.vstack([a for a, _ in rows]),
        b_ub=np.concatenate([b for _, b in rows]),
        bounds=bounds + [(0.0, None)] * (n + m),
        method="highs",
    )
    if not solution.success:
        raise RuntimeError(f"interval fit failed: {solution.message}")
    return np.asarray(solution.x[:m])


def fit_age_map(
    estimates: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    knots: tuple[float, ...] = AGE_KNOTS,
    ceiling: float | None = OLDEST_CLASS,
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """PipelineOptions (age_knots, age_calibrated): the inverse of the response curve g that
    brings each estimate between g(low) and g(high + 1) (ages in whole years); the response is
    capped at `ceiling` (an expectation over Cydral's classes cannot pass the oldest)."""
    at = np.asarray(knots)
    response = _interval_fit(
        (interp_weights(low, at), estimates),  # g(low) - estimate
        (-interp_weights(high + 1, at), -estimates),  # estimate - g(high + 1)
        at,
        MIN_RESPONSE_SLOPE,
        ceiling,
    )
    return tuple(np.round(response, 2).tolist()), knots


def range_mass(
    probabilities: np.ndarray, edges: np.ndarray, low: np.ndarray, high: np.ndarray
) -> np.ndarray:
    """Each face's probability of an age in [low, high) when class k is spread evenly over
    [edges[k], edges[k + 1]) (calibrated years)."""
    start = np.maximum(edges[None, :-1], low[:, None])
    end = np.minimum(edges[None, 1:], high[:, None])
    share = np.clip(end - start, 0.0, None) / np.maximum(np.diff(edges), 1e-9)[None, :]
    return np.asarray((probabilities * share).sum(axis=1))


def range_nll(
    probabilities: np.ndarray, edges: np.ndarray, low: np.ndarray, high: np.ndarray
) -> np.ndarray:
    """Each face's negative log-probability of its labelled range of whole years [low, high]
    (the interval-censored likelihood the spread is fitted and compared by)."""
    held = range_mass(probabilities, edges, low, high + 1)
    return np.asarray(-np.log(np.maximum(held, 1e-12)))


def fit_age_spread(
    probabilities: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    age_map: tuple[tuple[float, ...], tuple[float, ...]],
) -> float:
    """The spread (a Gaussian in log(1 + years) over the network's classes) that maximises the
    probability the calibrated distributions give to the labelled ranges."""
    edges = np.interp(CLASS_EDGES, *age_map)

    def loss(spread: float) -> float:
        return float(range_nll(probabilities @ spread_kernel(spread).T, edges, low, high).sum())

    return float(minimize_scalar(loss, bounds=SPREAD_BOUNDS, method="bounded").x)


def fit_temperature(log_odds: np.ndarray, positive: np.ndarray) -> float:
    """The temperature T minimising the negative log-likelihood of the labels under
    sigmoid(log_odds / T) (temperature scaling, Guo et al. 2017)."""

    def nll(log_t: float) -> float:
        z = log_odds / np.exp(log_t)
        return float(np.sum(np.logaddexp(0.0, np.where(positive, -z, z))))

    return float(np.exp(minimize_scalar(nll, bounds=(-3.0, 3.0), method="bounded").x))


def fit_calibration(
    gender: np.ndarray, age: np.ndarray, male: np.ndarray, low: np.ndarray, high: np.ndarray
) -> dict[str, Any]:
    """Every calibration option (PipelineOptions fields) from faces with their networks'
    probabilities (rows), genders and age ranges (whole years)."""
    age_map = fit_age_map(age @ CYDRAL_AGE_YEARS, low, high)
    return {
        "age_knots": age_map[0],
        "age_calibrated": age_map[1],
        "age_spread": round(fit_age_spread(age, low, high, age_map), 3),
        "gender_temperature": round(fit_temperature(gender_log_odds(gender), male), 3),
    }
