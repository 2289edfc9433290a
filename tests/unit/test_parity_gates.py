"""bench.accuracy.parity's gates on made-up comparisons: `exact` keeps every face count, another
precision may change as many photos' face counts as the reference's noisiest one-pixel move does,
counted over all sets together; and the moved photo that noise comes from."""

from __future__ import annotations

import numpy as np

from bench.accuracy.noise_gate import MovedPhotoDetector, moved_photo
from bench.accuracy.parity import FaceChange, SetParity, gates
from shared.result_values import EXACT, FAST
from worker.faces import FaceBox

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
        "face count changed on 1 photo <= 2 (the reference's photo moved one pixel)",
        True,
    )
    assert count_gate(FAST, sets(1, 1), count_noise=2)[1]  # as many as the move: holds
    assert count_gate(FAST, sets(0, 0), count_noise=0)[1]


def test_a_variant_fails_on_more_face_count_changes_than_any_one_pixel_move() -> None:
    assert count_gate(FAST, sets(1, 0), count_noise=0) == (
        "face count changed on 1 photo <= 0 (the reference's photo moved one pixel)",
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


class BrightestPixel:
    """A detector finding one 1x1 face at the photo's brightest pixel, scored by its value."""

    def detect(self, image: np.ndarray, min_score: float) -> list[FaceBox]:
        y, x = np.unravel_index(int(np.argmax(image)), image.shape)
        score = float(image[y, x])
        return [FaceBox(int(x), int(y), 1, 1, score)] if score >= min_score else []


def test_a_moved_photo_moves_its_content_and_its_boxes_come_back() -> None:
    image = np.zeros((4, 5), np.uint8)
    image[2, 3] = 200
    for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        moved = moved_photo(image, dx, dy)
        assert moved.shape == image.shape
        assert moved[2 + dy, 3 + dx] == 200
        faces = MovedPhotoDetector(BrightestPixel(), dx, dy).detect(image, 100)
        assert [(f.x, f.y) for f in faces] == [(3, 2)]


def test_a_moved_photo_can_lose_a_face_its_boxes_moving_cannot() -> None:
    # The bright pixel on the right edge leaves the photo moved right.
    image = np.zeros((4, 5), np.uint8)
    image[2, 4] = 200
    assert MovedPhotoDetector(BrightestPixel(), -1, 0).detect(image, 100)
    assert not MovedPhotoDetector(BrightestPixel(), 1, 0).detect(image, 100)
