"""The default pack's calibration: the interval-censored age-map fit, the age spread and the gender
temperature (bench/calibration/fit.py), and how worker/models/cydral.py applies them. Synthetic
faces with known answers: the fits must find them."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bench.calibration.fit import (
    IDENTITY_BELOW,
    fit_age_map,
    fit_age_spread,
    fit_calibration,
    fit_temperature,
)
from worker.models.cydral import (
    CYDRAL_AGE_YEARS,
    face_attributes,
    gender_confidence,
    gender_log_odds,
    spread_kernel,
)
from worker.options import CYDRAL_CALIBRATION, SHIPPED

RNG_SEED = 16


def response(age: np.ndarray) -> np.ndarray:
    """A network that reads 25-year-olds right and everyone older too young (slope 0.7)."""
    return np.where(age <= 25, age, 25 + 0.7 * (age - 25))


def test_the_age_map_undoes_a_known_response_from_ranges_alone() -> None:
    rng = np.random.default_rng(RNG_SEED)
    age = rng.uniform(25, 85, 400)
    low = np.floor(age - rng.uniform(0, 6, age.size))  # ranges of whole years holding the age
    high = np.floor(age + rng.uniform(0, 6, age.size))
    age_map = fit_age_map(response(age), low, high)
    for truth in (30.0, 45.0, 60.0, 75.0):
        assert abs(np.interp(response(np.array(truth)), *age_map) - truth) < 1.5


def test_estimates_already_inside_their_ranges_leave_the_map_the_identity() -> None:
    age = np.linspace(26, 68, 60)
    age_map = fit_age_map(age, np.floor(age) - 3, np.floor(age) + 3)
    assert np.allclose(np.interp(age, *age_map), age)


def test_the_map_keeps_the_estimate_where_no_label_is_young_enough() -> None:
    age = np.linspace(30, 80, 50)
    age_map = fit_age_map(response(age) - 5, np.floor(age), np.floor(age))
    young = np.array([3.0, 12.0, IDENTITY_BELOW])
    assert np.allclose(np.interp(young, *age_map), young)
    assert np.all(np.diff(age_map[0]) > 0)  # np.interp needs increasing knots


def distributions(centres: np.ndarray, spread: float) -> np.ndarray:
    """Age distributions peaked at `centres`, spread by a Gaussian in log(1 + years)."""
    where = np.log1p(CYDRAL_AGE_YEARS)
    weights = np.exp(-0.5 * ((where[None, :] - np.log1p(centres)[:, None]) / spread) ** 2)
    return weights / weights.sum(axis=1, keepdims=True)


def test_the_spread_fit_widens_distributions_that_miss_the_truth_more_often() -> None:
    rng = np.random.default_rng(RNG_SEED)
    age = rng.integers(30, 75, 300).astype(float)
    identity = ((0.0, 80.0), (0.0, 80.0))
    fitted = []
    for noise in (0.05, 0.25):
        centres = np.clip(np.expm1(np.log1p(age) + rng.normal(0, noise, age.size)), 1, 79)
        fitted.append(fit_age_spread(distributions(centres, 0.02), age, age, identity))
    assert fitted[0] < 0.1 < 0.2 < fitted[1]


def test_the_temperature_fit_recovers_overconfidence() -> None:
    rng = np.random.default_rng(RNG_SEED)
    truth_log_odds = rng.normal(0, 3, 4000)
    male = rng.random(truth_log_odds.size) < 1 / (1 + np.exp(-truth_log_odds))
    stated = 2.0 * truth_log_odds  # a network twice as sure as it should be
    assert fit_temperature(stated, male) == pytest.approx(2.0, rel=0.1)


def test_log_odds_survive_a_saturated_softmax() -> None:
    odds = gender_log_odds(np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]))
    assert np.all(np.isfinite(odds)) and odds[0] < 0 < odds[1] and odds[2] == 0


def test_fit_calibration_gives_every_calibration_option() -> None:
    rng = np.random.default_rng(RNG_SEED)
    age = rng.integers(30, 75, 100).astype(float)
    gender = np.tile([0.2, 0.8], (age.size, 1))
    fitted = fit_calibration(gender, distributions(age, 0.1), np.ones(age.size, bool), age, age)
    assert set(fitted) == CYDRAL_CALIBRATION
    assert fitted["gender_temperature"] < 1  # always right at 0.8: it should say more


def test_a_temperature_above_one_keeps_the_label_and_lowers_the_confidence() -> None:
    probabilities = np.array([0.1, 0.9])
    assert gender_confidence(probabilities, 1.0) == pytest.approx(0.9)
    assert 0.5 < gender_confidence(probabilities, 2.0) < 0.9
    assert gender_confidence(probabilities[::-1], 2.0) == gender_confidence(probabilities, 2.0)


def test_no_spread_leaves_the_distribution_as_it_is() -> None:
    assert np.array_equal(spread_kernel(0.0), np.eye(CYDRAL_AGE_YEARS.size))
    assert np.allclose(spread_kernel(0.2).sum(axis=0), 1.0)  # no probability lost at the ends


def test_the_spread_widens_the_range_around_the_same_estimate() -> None:
    age = distributions(np.array([40.0]), 0.02)[0]
    gender = np.array([0.3, 0.7])
    sure = face_attributes(gender, age, dataclasses.replace(SHIPPED, age_spread=0.0))
    spread = face_attributes(gender, age, SHIPPED)
    assert sure.age_years == spread.age_years
    sure_low, sure_high = (int(v) for v in sure.age_range.split("-"))
    low, high = (int(v) for v in spread.age_range.split("-"))
    assert low <= spread.age_years <= high and spread.age_confidence >= 0.8
    assert high - low > sure_high - sure_low


def test_the_shipped_age_map_is_increasing_and_starts_at_zero() -> None:
    assert SHIPPED.age_knots[0] == SHIPPED.age_calibrated[0] == 0.0
    assert np.all(np.diff(SHIPPED.age_knots) > 0) and np.all(np.diff(SHIPPED.age_calibrated) > 0)


def test_faceapi_age_map_goes_on_past_its_last_knot() -> None:
    from worker.models.faceapi import calibrated_age

    last, value = SHIPPED.faceapi_age_knots[-1], SHIPPED.faceapi_age_calibrated[-1]
    assert calibrated_age(last, SHIPPED) == pytest.approx(value)
    assert value < calibrated_age(last + 5, SHIPPED) < calibrated_age(last + 10, SHIPPED) <= 100
    assert calibrated_age(-3.0, SHIPPED) == 0.0
    assert calibrated_age(1000.0, SHIPPED) == 100.0
