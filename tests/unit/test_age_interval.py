"""The contract's age.range for packs that estimate years: the shortest whole-year span that
holds the estimate and at least 80% of the calibrated age distribution."""

from __future__ import annotations

import numpy as np

from worker.models.cydral import age_interval

YEARS = np.arange(0.0, 81.0)


def peaked(centre: float, spread: float) -> np.ndarray:
    weights = np.exp(-0.5 * ((YEARS - centre) / spread) ** 2)
    return weights / weights.sum()


def test_a_narrow_distribution_gets_a_narrow_range_holding_80_percent() -> None:
    low, high, held = age_interval(peaked(30, 2), YEARS, 30.0)
    assert low <= 30 <= high and high - low <= 6
    assert held >= 0.8


def test_the_range_is_the_shortest_that_holds_80_percent() -> None:
    probabilities = peaked(40, 5)
    low, high, _ = age_interval(probabilities, YEARS, 40.0)
    for shorter in range(high - low):
        for start in range(0, 81 - shorter):
            inside = (start <= YEARS) & (start + shorter >= YEARS)
            assert probabilities[inside].sum() < 0.8 or not start <= 40 <= start + shorter


def test_the_range_always_contains_the_estimate_even_off_the_mass() -> None:
    # all the mass at 20 and 60; an estimate of 40 between them must still be inside the range
    probabilities = np.zeros(81)
    probabilities[[20, 60]] = 0.5
    low, high, held = age_interval(probabilities, YEARS, 40.0)
    assert low <= 40 <= high and held >= 0.8


def test_a_flat_top_of_the_calibrated_scale_is_one_year() -> None:
    class_years = np.minimum(YEARS, 74.33)  # a map flat past 74, as the utkface-fitted one was
    probabilities = peaked(79, 1.5)
    low, high, held = age_interval(probabilities, class_years, 74.33)
    assert (low, high) == (74, 75) and held > 0.8
