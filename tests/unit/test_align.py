"""Our OpenCV chips against dlib's own get_face_chip, on the same landmarks."""

from __future__ import annotations

import cv2
import dlib
import numpy as np
import pytest

from harness.images import astronaut_rgb
from harness.paths import MODEL_DIR
from worker.align import CHIP_PADDING, chip_transform, extract_chip, face_frame


@pytest.fixture(scope="module")
def predictor() -> dlib.shape_predictor:
    return dlib.shape_predictor(str(MODEL_DIR / "shape_predictor_5_face_landmarks.dat"))


@pytest.mark.parametrize("zoom", [0.5, 1.0, 2.0, 4.0])
@pytest.mark.parametrize("size", [32, 64, 150])
def test_chip_matches_dlib_pixelwise(predictor, zoom: float, size: int) -> None:
    image = cv2.resize(astronaut_rgb(), None, fx=zoom, fy=zoom, interpolation=cv2.INTER_LINEAR)
    face = dlib.rectangle(*(int(v * zoom) for v in (179, 83, 266, 170)))
    shape = predictor(image, face)
    points = np.array([(shape.part(i).x, shape.part(i).y) for i in range(5)], dtype=float)
    ours = extract_chip(image, chip_transform(face_frame(points), size), size).astype(int)
    theirs = dlib.get_face_chip(image, shape, size, CHIP_PADDING).astype(int)
    # Same geometry to a fraction of a pixel; the residue is the two pyramids' blur kernels.
    assert np.abs(ours - theirs).mean() < 2.5


def test_chip_geometry_matches_dlib_chip_details(predictor) -> None:
    image = astronaut_rgb()
    shape = predictor(image, dlib.rectangle(179, 83, 266, 170))
    points = np.array([(shape.part(i).x, shape.part(i).y) for i in range(5)], dtype=float)
    details = dlib.get_face_chip_details(shape, 64, CHIP_PADDING)
    matrix = chip_transform(face_frame(points), 64)
    assert np.arctan2(matrix[1, 0], matrix[0, 0]) == pytest.approx(details.angle, abs=1e-9)
    top_left = matrix @ np.array([0, 0, 1])
    rect = details.rect
    centre = np.array([(rect.left() + rect.right()) / 2, (rect.top() + rect.bottom()) / 2])
    middle = matrix @ np.array([31.5, 31.5, 1])
    assert middle == pytest.approx(centre, abs=1e-6)
    assert np.hypot(*(top_left - middle)) == pytest.approx(
        np.hypot(rect.right() - rect.left(), rect.bottom() - rect.top()) / 2, abs=1e-6
    )
