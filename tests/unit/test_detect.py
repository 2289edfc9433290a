"""The detector's box filtering and its closer look at weak candidates."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from harness.images import astronaut_rgb
from worker.models.res10 import DETECTOR_INPUT, face_shaped, sticks_out_of_a_corner
from worker.options import SHIPPED


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
    assert sticks_out_of_a_corner(*box, SHIPPED.corner_overhang) is dropped


@pytest.mark.parametrize(
    ("width", "height", "kept"),
    [(40, 52, True), (50, 47, True), (60, 98, True), (60, 133, False), (90, 40, False)],
)
def test_only_face_shaped_boxes_are_kept(width: int, height: int, kept: bool) -> None:
    assert face_shaped(width, height, SHIPPED.aspect_limits) is kept


def test_a_face_too_small_for_the_whole_image_pass_is_found_by_a_closer_look(pipeline) -> None:
    # The astronaut at 400 px in a 1600x1000 frame: her face is ~19x19 px of the 300x300 input.
    canvas = np.full((1000, 1600, 3), 120, dtype=np.uint8)
    portrait = cv2.resize(astronaut_rgb()[:, :, ::-1], (400, 400), interpolation=cv2.INTER_AREA)
    canvas[300:700, 600:1000] = portrait
    assert pipeline.detector.detections(canvas, DETECTOR_INPUT, 0.5) == []
    [face] = pipeline.detector.detect(canvas, 0.5)
    assert face.score >= 0.5
    # the face's centre in the portrait is (222, 126) of 512 px
    assert abs(face.x + face.width / 2 - (600 + 222 * 400 / 512)) < 15
    assert abs(face.y + face.height / 2 - (300 + 126 * 400 / 512)) < 20
