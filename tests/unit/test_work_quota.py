"""What a queued job counts against its client's quota: its work, not only its bytes."""

from __future__ import annotations

from shared.work_quota import MIN_JOB_COST, job_cost


def test_a_tiny_file_counts_the_least_a_job_counts() -> None:
    assert job_cost(57, 1) == MIN_JOB_COST


def test_a_small_file_of_many_pixels_counts_its_pixels() -> None:
    assert job_cost(375_000, 48_000_000) == 16_000_000


def test_a_photo_counts_its_own_size() -> None:
    assert job_cost(20_000_000, 12_000_000) == 20_000_000
