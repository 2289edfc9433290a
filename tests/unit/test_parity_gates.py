"""bench.accuracy.parity's gates on made-up comparisons: `exact` keeps every face count, another
precision may change as many photos' face counts as the reference's noisiest one-pixel move does,
counted over all sets together."""

from __future__ import annotations

from bench.accuracy.parity import FaceChange, SetParity, gates
from shared.result_values import EXACT, FAST

SAME = FaceChange(iou=1.0, gender_flip=False, range_change=False, years=0.0, score=0.0)


def sets(*count_changes: int) -> dict[str, SetParity]:
    """One set per number, each with that many photos whose face count changed."""
    return {
        f"set {i}": SetParity(photos=10, count_changes=n, changes=[SAME] * 10)
        for i, n in enumerate(count_changes)
    }


def count_gate(precision: str, parity: dict[str, SetParity], count_noise: int) -> tuple[str, bool]:
    return gates(precision, parity, count_noise=count_noise)[0]


def test_a_variant_may_change_as_many_face_counts_as_a_one_pixel_move() -> None:
    assert count_gate(FAST, sets(0, 1, 0), count_noise=2) == (
        "face count changed on 1 photo <= 2 (the reference moved one pixel)",
        True,
    )
    assert count_gate(FAST, sets(1, 1), count_noise=2)[1]  # as many as the move: holds
    assert count_gate(FAST, sets(0, 0), count_noise=0)[1]


def test_a_variant_fails_on_more_face_count_changes_than_any_one_pixel_move() -> None:
    assert count_gate(FAST, sets(1, 0), count_noise=0) == (
        "face count changed on 1 photo <= 0 (the reference moved one pixel)",
        False,
    )


def test_face_count_changes_add_up_over_the_sets() -> None:
    # One per set is within a move's one in any single set, but two photos in all.
    line, holds = count_gate(FAST, sets(1, 1), count_noise=1)
    assert not holds
    assert line.startswith("face count changed on 2 photos <= 1")


def test_exact_keeps_every_face_count_whatever_the_noise() -> None:
    assert count_gate(EXACT, sets(0, 1), count_noise=5) == (
        "same face count on every photo",
        False,
    )
    assert count_gate(EXACT, sets(0, 0), count_noise=0)[1]
