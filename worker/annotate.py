"""Draw each face's green box, its number (the result's `#`: 1 is the first face of the JSON) and
a `Female, 25-32 (97%), happy` label (the expression where the pack has one and there is room),
legible at any image size and never overlapping.

Placement, in the order of the faces (the detector's surest first), so the clearest faces get
the room first:
- the number, always: a tag on the box's top-left corner, above the box (just inside it when
  the image ends there), no taller than half the box (not below MIN_FONT_SCALE);
- the label: on the number's line just after it, else above the box, else below it (aligned
  with the box's left edge, its right edge, or pushed in from the image's edge), at full size,
  then 80%, 65% and 50%, with the expression and else without it; failing all of those, inside
  the box along its bottom edge (with, then without); failing that too, it is left out (the
  number stays, and the result's row says it all). A label never covers a box, a number or
  another label, and never leaves the image.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from worker.faces import FaceAttributes, FaceBox
from worker.shrink import shrink

GREEN = (0, 255, 0)
BLACK = (0, 0, 0)
FONT = cv2.FONT_HERSHEY_SIMPLEX
# Below this, Hershey digits are about 7 px tall: the smallest still told apart.
MIN_FONT_SCALE = 0.35
LABEL_SHRINK = (1.0, 0.8, 0.65, 0.5)
JPEG_QUALITY = 85
# The stored annotated image is bounded whatever the upload, because a small upload can decode to
# a large, incompressible image (a 27 KB lossless WebP of a noise tile repeated to 6324x6324 would
# make a 28 MB JPEG). It is drawn at most this long on its longest side, then encoded at lower
# qualities until it fits MAX_ANNOTATED_BYTES (or the lowest is hit).
MAX_ANNOTATED_SIDE = 2048
MAX_ANNOTATED_BYTES = 2 * 1024 * 1024
FALLBACK_QUALITIES = (70, 50, 30)


@dataclass(frozen=True, slots=True)
class Rect:
    """A rectangle of pixels: left and top inclusive, width and height at least 1."""

    left: int
    top: int
    width: int
    height: int

    @property
    def right(self) -> int:
        return self.left + self.width

    @property
    def bottom(self) -> int:
        return self.top + self.height

    def overlaps(self, other: Rect) -> bool:
        return (
            self.left < other.right
            and other.left < self.right
            and self.top < other.bottom
            and other.top < self.bottom
        )

    def within(self, width: int, height: int) -> bool:
        return self.left >= 0 and self.top >= 0 and self.right <= width and self.bottom <= height


@dataclass(frozen=True, slots=True)
class Tag:
    """Text on a filled green rectangle: a face's number or its label."""

    text: str
    rect: Rect
    scale: float


@dataclass(frozen=True, slots=True)
class FaceMarks:
    """What is drawn for one face on the annotated image, in its pixels."""

    box: Rect
    number: Tag
    label: Tag | None  # None: no room for it anywhere (see the module's docstring)


def face_labels(attributes: FaceAttributes) -> tuple[str, ...]:
    """The label texts of one face, the fullest first: `Female, 25-32 (97%), happy`, then
    without the expression (the only one for packs without an expression network)."""
    percent = round(attributes.gender_confidence * 100)
    short = f"{attributes.gender.capitalize()}, {attributes.age_range} ({percent}%)"
    if attributes.expression is None:
        return (short,)
    return (f"{short}, {attributes.expression.label}", short)


def label_scale(width: int, height: int) -> float:
    """Font scale for an image: about 1/45 of the shorter side in text height, never tiny."""
    return max(MIN_FONT_SCALE, min(height, width) / 900)


def line_width(image_size: tuple[int, int]) -> int:
    """The boxes' line width: sized from the image, not the face, so all read the same."""
    return max(1, round(min(image_size) / 300))


def annotated_size(width: int, height: int) -> tuple[int, int]:
    """The annotated image's size for an image of this size (at most MAX_ANNOTATED_SIDE)."""
    scale = min(1.0, MAX_ANNOTATED_SIDE / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def annotate(
    image: np.ndarray, faces: list[FaceBox], attributes: list[FaceAttributes]
) -> np.ndarray:
    """A copy of the image, shrunk to MAX_ANNOTATED_SIDE, with every face boxed, numbered and
    (where there is room) labelled. Boxes are in the image's pixels."""
    height, width = image.shape[:2]
    size = annotated_size(width, height)
    if size != (width, height):
        canvas = shrink(image, size)
        scale = size[0] / width
        faces = [scaled_box(face, scale) for face in faces]
    else:
        canvas = image.copy()
    line = line_width(size)
    marks = place_marks(faces, [face_labels(a) for a in attributes], size)
    for mark in marks:
        box = mark.box
        cv2.rectangle(canvas, (box.left, box.top), (box.right - 1, box.bottom - 1), GREEN, line)
    for mark in marks:
        draw_tag(canvas, mark.number)
        if mark.label is not None:
            draw_tag(canvas, mark.label)
    return canvas


def place_marks(
    faces: Sequence[FaceBox], labels: Sequence[Sequence[str]], image_size: tuple[int, int]
) -> list[FaceMarks]:
    """Where each face's number and label go on an image of this size (see the docstring);
    `labels`: each face's label texts, the fullest first."""
    width, height = image_size
    base = label_scale(width, height)
    boxes = [Rect(f.x, f.y, f.width, f.height) for f in faces]
    numbers = [_place_number(str(i + 1), box, base, image_size) for i, box in enumerate(boxes)]
    # A box's line is drawn across its edge, and labels keep that much further away from
    # each other, so two never read as one.
    gap = line_width(image_size)
    taken = [_grown(tag.rect, gap) for tag in numbers]
    outlines = [_grown(box, gap) for box in boxes]
    marks = []
    for index, (box, texts) in enumerate(zip(boxes, labels, strict=True)):
        others = [o for i, o in enumerate(outlines) if i != index]
        number = numbers[index]
        label = _place_label(texts, box, number.rect, base, [*others, *taken], image_size, gap)
        if label is not None:
            taken.append(_grown(label.rect, gap))
        marks.append(FaceMarks(box, number, label))
    return marks


def _place_number(text: str, box: Rect, scale: float, image_size: tuple[int, int]) -> Tag:
    """On the box's top-left corner: above the box, so it covers no face, or just inside when
    the image ends there; no taller than half the box."""
    width, height = _tag_size(text, scale)
    most = max(1, box.height // 2)
    if height > most:
        scale = max(MIN_FONT_SCALE, scale * most / height)
        width, height = _tag_size(text, scale)
    top = box.top - height if box.top >= height else box.top
    return Tag(text, _clamped(Rect(box.left, top, width, height), image_size), scale)


def _place_label(
    texts: Sequence[str],
    box: Rect,
    number: Rect,
    base: float,
    obstacles: list[Rect],
    image_size: tuple[int, int],
    gap: int,
) -> Tag | None:
    image_w, image_h = image_size
    for inside in (False, True):
        # Outside its own box first: a label there covers no face at all.
        avoid = obstacles if inside else [*obstacles, box]
        for text in texts:
            for reduction in LABEL_SHRINK:
                scale = _fitting_scale(text, max(MIN_FONT_SCALE, base * reduction), image_w)
                width, height = _tag_size(text, scale)
                for rect in _label_spots(box, number, width, height, inside, image_w, gap):
                    if rect.within(image_w, image_h) and not any(rect.overlaps(o) for o in avoid):
                        return Tag(text, rect, scale)
    return None


def _label_spots(
    box: Rect, number: Rect, width: int, height: int, inside: bool, image_width: int, gap: int
) -> Iterator[Rect]:
    if inside:
        rows: tuple[int, ...] = (box.bottom - height,)
    else:
        rows = (box.top - height, box.bottom)
        # Best: on the number's line, just after it.
        yield Rect(number.right + gap, number.bottom - height, width, height)
    # Then aligned with the box's left edge, its right edge, or pushed in from the image's edge.
    lefts = (box.left, box.right - width, max(0, min(box.left, image_width - width)))
    for top in rows:
        for left in dict.fromkeys(lefts):
            yield Rect(left, top, width, height)


def _grown(rect: Rect, margin: int) -> Rect:
    return Rect(
        rect.left - margin, rect.top - margin, rect.width + 2 * margin, rect.height + 2 * margin
    )


def _fitting_scale(text: str, scale: float, image_width: int) -> float:
    """The scale, lowered when the text would be wider than the image (a narrow image)."""
    width, _ = _tag_size(text, scale)
    return scale if width <= image_width else scale * image_width / width


def _thickness(scale: float) -> int:
    return max(1, round(scale * 1.6))


def _descent(text: str, baseline: int) -> int:
    """Room below the baseline: digits have no descenders, so a number is centred without it."""
    return 0 if text.isdigit() else baseline


def _tag_size(text: str, scale: float) -> tuple[int, int]:
    """Every tag has room for descenders, so a number and its label are one line high."""
    (text_w, text_h), baseline = cv2.getTextSize(text, FONT, scale, _thickness(scale))
    pad = max(2, text_h // 4)
    return text_w + 2 * pad, text_h + baseline + 2 * pad


def _clamped(rect: Rect, image_size: tuple[int, int]) -> Rect:
    width, height = image_size
    left = max(0, min(rect.left, width - rect.width))
    top = max(0, min(rect.top, height - rect.height))
    return Rect(left, top, rect.width, rect.height)


def draw_tag(canvas: np.ndarray, tag: Tag) -> None:
    """Draw a tag: its rectangle filled green, its text in black, centred."""
    rect = tag.rect
    cv2.rectangle(
        canvas, (rect.left, rect.top), (rect.right - 1, rect.bottom - 1), GREEN, cv2.FILLED
    )
    thickness = _thickness(tag.scale)
    (text_w, text_h), baseline = cv2.getTextSize(tag.text, FONT, tag.scale, thickness)
    left = rect.left + (rect.width - text_w) // 2
    top = rect.top + (rect.height - text_h - _descent(tag.text, baseline)) // 2
    cv2.putText(
        canvas, tag.text, (left, top + text_h), FONT, tag.scale, BLACK, thickness, cv2.LINE_AA
    )


def scaled_box(face: FaceBox, scale: float) -> FaceBox:
    """The box on the image resized by this factor (the page rounds it the same way)."""
    left, top = round(face.x * scale), round(face.y * scale)
    right, bottom = round((face.x + face.width) * scale), round((face.y + face.height) * scale)
    return FaceBox(left, top, max(1, right - left), max(1, bottom - top), face.score)


def encode_jpeg(image: np.ndarray) -> bytes:
    """JPEG bytes of a BGR image, at the highest of the qualities tried that fits
    MAX_ANNOTATED_BYTES (the lowest one when none does)."""
    for quality in (JPEG_QUALITY, *FALLBACK_QUALITIES):
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        if encoded.size <= MAX_ANNOTATED_BYTES:
            break
    return encoded.tobytes()
