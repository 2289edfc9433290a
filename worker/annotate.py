"""Draw a green box and a `Female, 25-32 (97%)` label per face, legible at any image size."""

from __future__ import annotations

import cv2
import numpy as np

from worker.faces import FaceAttributes, FaceBox

GREEN = (0, 255, 0)
BLACK = (0, 0, 0)
FONT = cv2.FONT_HERSHEY_SIMPLEX
JPEG_QUALITY = 85
# The stored annotated image is bounded whatever the upload: a 27 KB lossless WebP of a noise tile
# repeated to 6324x6324 used to store a 28 MB JPEG. It is drawn at most this long on its longest
# side, then encoded at lower qualities until it fits MAX_ANNOTATED_BYTES (or the lowest is hit).
MAX_ANNOTATED_SIDE = 2048
MAX_ANNOTATED_BYTES = 2 * 1024 * 1024
FALLBACK_QUALITIES = (70, 50, 30)


def face_label(attributes: FaceAttributes) -> str:
    """The label text of one face, e.g. `Female, 25-32 (97%)`."""
    percent = round(attributes.gender_confidence * 100)
    return f"{attributes.gender.capitalize()}, {attributes.age_range} ({percent}%)"


def label_scale(width: int, height: int) -> float:
    """Font scale for an image: about 1/45 of the shorter side in text height, never tiny."""
    return max(0.35, min(height, width) / 900)


def annotate(
    image: np.ndarray, faces: list[FaceBox], attributes: list[FaceAttributes]
) -> np.ndarray:
    """A copy of the image, shrunk to MAX_ANNOTATED_SIDE, with every face boxed and labelled;
    labels stay inside the image. Boxes are in the image's pixels."""
    scale = min(1.0, MAX_ANNOTATED_SIDE / max(image.shape[:2]))
    if scale < 1.0:
        size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
        canvas = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        faces = [_scaled(face, scale) for face in faces]
    else:
        canvas = image.copy()
    height, width = canvas.shape[:2]
    # Sized from the image, not the face, so every label on one picture reads the same.
    line = max(1, round(min(height, width) / 300))
    base_scale = label_scale(width, height)
    for face, attrs in zip(faces, attributes, strict=True):
        cv2.rectangle(
            canvas,
            (face.x, face.y),
            (face.x + face.width - 1, face.y + face.height - 1),
            GREEN,
            line,
        )
        _draw_label(canvas, face_label(attrs), face, base_scale)
    return canvas


def _scaled(face: FaceBox, scale: float) -> FaceBox:
    left, top = round(face.x * scale), round(face.y * scale)
    right, bottom = round((face.x + face.width) * scale), round((face.y + face.height) * scale)
    return FaceBox(left, top, max(1, right - left), max(1, bottom - top), face.score)


def label_layout(
    text: str, face: FaceBox, image_size: tuple[int, int], scale: float
) -> tuple[tuple[int, int, int, int], float, int]:
    """Where the label goes: (left, top, width, height) inside the image, font scale, thickness.

    Above the box when there is room, else just inside its top edge; shrunk to fit narrow images.
    """
    width, height = image_size
    thickness = max(1, round(scale * 1.6))
    (text_w, text_h), baseline = cv2.getTextSize(text, FONT, scale, thickness)
    if text_w + 8 > width:
        scale *= (width - 8) / (text_w + 8)
        thickness = max(1, round(scale * 1.6))
        (text_w, text_h), baseline = cv2.getTextSize(text, FONT, scale, thickness)
    pad = max(2, text_h // 4)
    box_w, box_h = text_w + 2 * pad, min(height, text_h + baseline + 2 * pad)
    left = min(max(0, face.x), max(0, width - box_w))
    top = face.y - box_h if face.y - box_h >= 0 else face.y
    top = max(0, min(top, height - box_h))
    return (left, top, box_w, box_h), scale, thickness


def _draw_label(canvas: np.ndarray, text: str, face: FaceBox, scale: float) -> None:
    (left, top, box_w, box_h), scale, thickness = label_layout(
        text, face, (canvas.shape[1], canvas.shape[0]), scale
    )
    cv2.rectangle(canvas, (left, top), (left + box_w - 1, top + box_h - 1), GREEN, cv2.FILLED)
    (_, text_h), baseline = cv2.getTextSize(text, FONT, scale, thickness)
    pad = (box_h - text_h - baseline) // 2
    cv2.putText(
        canvas, text, (left + pad, top + pad + text_h), FONT, scale, BLACK, thickness, cv2.LINE_AA
    )


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
