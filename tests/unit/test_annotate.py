"""The annotated image: numbered boxes, the contract's label text, nothing overlapping, legible at
every size, bounded in bytes."""

from __future__ import annotations

import dataclasses
import itertools

import cv2
import numpy as np
import pytest

from harness.images import ASTRONAUT_FACE, astronaut_grid, astronaut_scene
from shared.result_values import Gender
from tests.drawn import rendered_tag
from worker.annotate import (
    MAX_ANNOTATED_BYTES,
    MAX_ANNOTATED_SIDE,
    FaceMarks,
    Rect,
    Tag,
    annotate,
    annotated_size,
    encode_jpeg,
    face_labels,
    label_scale,
    place_marks,
)
from worker.faces import FaceAttributes, FaceBox, FaceExpression
from worker.shrink import shrink

WOMAN = FaceAttributes(Gender.FEMALE, 0.97, 27.4, "25-32", 0.64)
SMILING = dataclasses.replace(WOMAN, expression=FaceExpression("happy", 0.93, {"happy": 0.93}))


def marks_for(
    faces: list[FaceBox], size: tuple[int, int], who: FaceAttributes = WOMAN
) -> list[FaceMarks]:
    return place_marks(faces, [face_labels(who)] * len(faces), size)


def grid_faces(columns: int, rows: int) -> list[FaceBox]:
    """Where the astronaut's face is in each tile of astronaut_grid, first row first."""
    x, y, w, h = ASTRONAUT_FACE
    return [
        FaceBox(x + 512 * c, y + 512 * r, w, h, 0.9) for r in range(rows) for c in range(columns)
    ]


def crowd(seed: int, count: int, size: tuple[int, int]) -> list[FaceBox]:
    """Faces that do not overlap, scattered at random over the image, small and large."""
    rng = np.random.default_rng(seed)
    width, height = size
    faces: list[FaceBox] = []
    while len(faces) < count:
        side = int(rng.integers(20, 120))
        x, y = int(rng.integers(0, width - side)), int(rng.integers(0, height - side))
        box = Rect(x, y, side, side)
        if not any(box.overlaps(Rect(f.x, f.y, f.width, f.height)) for f in faces):
            faces.append(FaceBox(x, y, side, side, 0.9))
    return faces


def test_label_text_follows_the_contract() -> None:
    assert face_labels(WOMAN) == ("Female, 25-32 (97%)",)
    assert face_labels(SMILING) == ("Female, 25-32 (97%), happy", "Female, 25-32 (97%)")


def test_the_expression_is_in_the_label_where_there_is_room() -> None:
    face = FaceBox(*ASTRONAUT_FACE, 0.99)
    [roomy] = marks_for([face], (512, 512), SMILING)
    assert roomy.label is not None and roomy.label.text == "Female, 25-32 (97%), happy"
    # A crowd on a small image: some labels only fit without it, none is left out for it.
    faces = crowd(7, 12, (400, 300))
    with_expression = marks_for(faces, (400, 300), SMILING)
    without = marks_for(faces, (400, 300))
    texts = [m.label.text if m.label else None for m in with_expression]
    assert "Female, 25-32 (97%)" in texts and "Female, 25-32 (97%), happy" in texts
    assert sum(t is not None for t in texts) >= sum(m.label is not None for m in without) - 1


def test_a_lone_face_keeps_its_full_size_label_above_the_box_after_its_number() -> None:
    face = FaceBox(*ASTRONAUT_FACE, 0.99)
    [marks] = marks_for([face], (512, 512))
    number, label = marks.number, marks.label
    assert number.text == "1"
    assert (number.rect.left, number.rect.bottom) == (face.x, face.y)  # on the box's corner
    assert label is not None and label.text == "Female, 25-32 (97%)"
    assert label.scale == label_scale(512, 512)
    assert label.rect.bottom == face.y and label.rect.left > number.rect.right


@pytest.mark.parametrize("size", [(40, 30), (320, 240), (800, 533), (6000, 4000), (200, 3000)])
@pytest.mark.parametrize("where", ["top-left", "bottom-right", "middle"])
def test_number_and_label_stay_inside_the_image(size: tuple[int, int], where: str) -> None:
    width, height = size
    side = max(4, min(size) // 4)
    x, y = {
        "top-left": (0, 0),
        "bottom-right": (width - side, height - side),
        "middle": (width // 2, height // 2),
    }[where]
    [marks] = marks_for([FaceBox(x, y, side, side, 0.9)], size)
    tags = [marks.number] + ([marks.label] if marks.label else [])
    assert all(tag.rect.within(width, height) for tag in tags)


def test_labels_grow_with_the_image() -> None:
    [small] = marks_for([FaceBox(10, 100, 50, 50, 1.0)], (640, 480))
    [large] = marks_for([FaceBox(10, 900, 500, 500, 1.0)], (6000, 4000))
    assert small.label is not None and large.label is not None
    assert small.label.rect.height >= 12  # pixels of label height on a small photo: readable
    assert large.label.rect.height > 4 * small.label.rect.height


@pytest.mark.parametrize("seed", range(6))
def test_in_a_crowd_nothing_overlaps_and_every_face_keeps_its_number(seed: int) -> None:
    size = (1200, 800)
    faces = crowd(seed, 45, size)
    marks = marks_for(faces, size)
    assert [m.number.text for m in marks] == [str(i) for i in range(1, len(faces) + 1)]
    tags = [m.number for m in marks] + [m.label for m in marks if m.label]
    for one, other in itertools.combinations(tags, 2):
        assert not one.rect.overlaps(other.rect), (one, other)
    for index, mark in enumerate(marks):
        box = mark.box
        corner = mark.number.rect
        assert corner.left == box.left and corner.bottom in (box.top, box.top + corner.height)
        if mark.label is None:
            continue
        assert mark.label.rect.within(*size)
        others = (m.box for i, m in enumerate(marks) if i != index)
        assert not any(mark.label.rect.overlaps(other) for other in others)
    scales = {m.label.scale for m in marks if m.label}
    # Crowded enough that the rule shrinks some labels and leaves some out.
    assert len(scales) > 1 and any(m.label is None for m in marks)


def test_the_drawn_numbers_are_the_rows_numbers_where_placed() -> None:
    image = cv2.cvtColor(astronaut_grid(3, 2), cv2.COLOR_RGB2BGR)
    faces = grid_faces(3, 2)
    drawn = annotate(image, faces, [WOMAN] * len(faces))
    for mark in marks_for(faces, (image.shape[1], image.shape[0])):
        rect = mark.number.rect
        crop = drawn[rect.top : rect.bottom, rect.left : rect.right]
        assert np.array_equal(crop, rendered_tag(mark.number))
        wrong = Tag(str(int(mark.number.text) % len(faces) + 1), rect, mark.number.scale)
        assert not np.array_equal(crop, rendered_tag(wrong))


def test_annotated_image_of_a_noise_tile_webp_is_bounded() -> None:
    tile = np.random.default_rng(7).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    noise = np.tile(tile, (791, 791, 1))[:6324, :6324]
    webp = cv2.imencode(".webp", noise, [cv2.IMWRITE_WEBP_QUALITY, 101])[1]  # lossless
    assert webp.size < 100_000
    face = FaceBox(3000, 3000, 1200, 1200, 0.99)
    decoded = cv2.imdecode(webp, cv2.IMREAD_COLOR)
    assert decoded is not None
    jpeg = encode_jpeg(annotate(decoded, [face], [WOMAN]))
    assert len(jpeg) <= MAX_ANNOTATED_BYTES
    annotated = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert annotated is not None
    assert annotated.shape[:2] == (MAX_ANNOTATED_SIDE, MAX_ANNOTATED_SIDE)
    scale = MAX_ANNOTATED_SIDE / 6324
    left = round(face.x * scale)
    middle = round((face.y + face.height / 2) * scale)
    assert annotated[middle, left - 2 : left + 3, 1].max() > 200  # the box's green edge is there


@pytest.mark.parametrize("size", [(2100, 1400), (4032, 2268), (6000, 4000)])
def test_a_big_image_is_shrunk_about_as_the_area_average_would(size: tuple[int, int]) -> None:
    # A 16:9 phone photo is decoded whole, a 6000x4000 one at half size, a PNG that big not at all.
    image = astronaut_scene(*size, texture=True)
    target = annotated_size(*size)
    reference = cv2.resize(image, target, interpolation=cv2.INTER_AREA)
    small = shrink(image, target)
    assert small.shape[1::-1] == target
    # Sampling instead of averaging gives about 30 dB, bilinear alone from 6000 wide 36 dB.
    assert cv2.PSNR(reference, small) > 38
