"""Labels: the contract's text, inside the image, legible at every size."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from worker.annotate import (
    MAX_ANNOTATED_BYTES,
    MAX_ANNOTATED_SIDE,
    annotate,
    encode_jpeg,
    face_label,
    label_layout,
    label_scale,
)
from worker.faces import FaceAttributes, FaceBox

WOMAN = FaceAttributes("female", 0.97, 27.4, "25-32", 0.64)


def test_label_text_follows_the_contract() -> None:
    assert face_label(WOMAN) == "Female, 25-32 (97%)"


@pytest.mark.parametrize("size", [(40, 30), (320, 240), (800, 533), (6000, 4000), (200, 3000)])
@pytest.mark.parametrize("where", ["top-left", "bottom-right", "middle"])
def test_label_stays_inside_the_image(size: tuple[int, int], where: str) -> None:
    width, height = size
    side = max(4, min(size) // 4)
    x, y = {
        "top-left": (0, 0),
        "bottom-right": (width - side, height - side),
        "middle": (width // 2, height // 2),
    }[where]
    face = FaceBox(x, y, side, side, 0.9)
    (left, top, w, h), _, _ = label_layout(face_label(WOMAN), face, size, label_scale(*size))
    assert left >= 0 and left + w <= width
    assert top >= 0 and top + h <= height


def test_label_grows_with_the_image() -> None:
    text = face_label(WOMAN)
    small = label_layout(text, FaceBox(10, 100, 50, 50, 1.0), (640, 480), label_scale(640, 480))
    large = label_layout(
        text, FaceBox(10, 900, 500, 500, 1.0), (6000, 4000), label_scale(6000, 4000)
    )
    assert small[0][3] >= 12  # pixels of label height on a small photo: still readable
    assert large[0][3] > 4 * small[0][3]


def test_annotated_image_of_a_noise_tile_webp_is_bounded() -> None:
    tile = np.random.default_rng(7).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    noise = np.tile(tile, (791, 791, 1))[:6324, :6324]
    webp = cv2.imencode(".webp", noise, [cv2.IMWRITE_WEBP_QUALITY, 101])[1]  # lossless
    assert webp.size < 100_000
    face = FaceBox(3000, 3000, 1200, 1200, 0.99)
    jpeg = encode_jpeg(annotate(cv2.imdecode(webp, cv2.IMREAD_COLOR), [face], [WOMAN]))
    assert len(jpeg) <= MAX_ANNOTATED_BYTES
    annotated = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert annotated.shape[:2] == (MAX_ANNOTATED_SIDE, MAX_ANNOTATED_SIDE)
    scale = MAX_ANNOTATED_SIDE / 6324
    left = round(face.x * scale)
    middle = round((face.y + face.height / 2) * scale)
    assert annotated[middle, left - 2 : left + 3, 1].max() > 200  # the box's green edge is there
