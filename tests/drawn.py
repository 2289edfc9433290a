"""What worker/annotate.py drew, read back from an annotated image: where each face's marks
are and which number a tag holds (the unit tests and the browser tests both check it)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from shared.result_values import Gender
from worker.annotate import FaceMarks, Rect, Tag, draw_tag, face_labels, place_marks, scaled_box
from worker.faces import FaceAttributes, FaceBox, FaceExpression


def rendered_tag(tag: Tag) -> np.ndarray:
    """The tag drawn alone, at the origin of a black canvas of its size (BGR)."""
    rect = tag.rect
    canvas = np.zeros((rect.height, rect.width, 3), np.uint8)
    draw_tag(canvas, Tag(tag.text, Rect(0, 0, rect.width, rect.height), tag.scale))
    return canvas


def number_read(image: np.ndarray, tag: Tag, candidates: Iterable[int]) -> int:
    """The candidate number whose tag, drawn in this tag's place, is closest to the image's
    pixels there (a tag covers what is under it, so only JPEG noise tells them apart)."""
    rect = tag.rect
    drawn = image[rect.top : rect.bottom, rect.left : rect.right].astype(np.int16)

    def distance(number: int) -> float:
        expected = rendered_tag(Tag(str(number), rect, tag.scale)).astype(np.int16)
        return float(np.abs(drawn - expected).mean())

    return min(candidates, key=distance)


def marks_of(result: dict, drawn_size: tuple[int, int]) -> list[FaceMarks]:
    """Where the annotated image of this result (the contract's `result` object), of this size,
    has each face's marks. It can be smaller than the photo: shrunk to MAX_ANNOTATED_SIDE, or
    drawn on a reduced decode of a large JPEG."""
    faces = result["faces"]
    scale = drawn_size[0] / result["image"]["width"]
    boxes = [scaled_box(FaceBox(**face["box"], score=face["score"]), scale) for face in faces]
    labels = [
        face_labels(
            FaceAttributes(
                Gender(face["gender"]["label"]),
                face["gender"]["confidence"],
                face["age"]["years"],
                face["age"]["range"],
                face["age"]["confidence"],
                FaceExpression(**face["expression"]) if "expression" in face else None,
            )
        )
        for face in faces
    ]
    return place_marks(boxes, labels, drawn_size)
