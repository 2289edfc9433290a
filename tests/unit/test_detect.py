"""The detector's box filtering."""

from __future__ import annotations

import pytest

from worker.detect import _sticks_out_of_a_corner


@pytest.mark.parametrize(
    ("box", "dropped"),
    [
        ((0.56, 0.49, 1.06, 1.07), True),  # res10's bottom-right phantom on plain portraits
        ((-0.05, -0.04, 0.3, 0.4), True),
        ((0.70, -0.03, 1.04, 0.3), True),
        ((0.25, 0.10, 0.72, 0.63), False),  # a face inside the frame
        ((0.80, 0.30, 1.05, 0.60), False),  # cut by one edge only
        ((0.30, 0.70, 0.60, 1.01), False),  # within the tolerance
    ],
)
def test_boxes_overhanging_two_adjacent_edges_are_dropped(
    box: tuple[float, float, float, float], dropped: bool
) -> None:
    assert _sticks_out_of_a_corner(*box) is dropped
