"""Draw a green box and a `Female, 25-32 (97%)` label per face, legible at any image size."""

from __future__ import annotations

import cv2
import numpy as np

from worker.faces import FaceAttributes, FaceBox

GREEN = (0, 255, 0)
BLACK = (0, 0, 0)
FONT = cv2.FONT_HERSHEY_SIMPLEX
JPEG_QUALITY = 85


def face_label(attributes: FaceAttributes) -> str:
    """The label text of one face, e.g. `Female, 25-32 (97%)`."""
    percent = int(round(attributes.gender_confidence * 100))
    return f"{attributes.gender.capitalize()}, {attributes.age_range} ({percent}%)"


def annotate(image: np.ndarray, faces: list[FaceBox], attributes: list[FaceAttributes]) -> np.ndarray:
    """A copy of the image with every face boxed and labelled; labels stay inside the image."""
    canvas = image.copy()
    height, width = canvas.shape[:2]
    # Sized from the image, not the face, so every label on one picture reads the same.
    line = max(1, round(min(height, width) / 300))
    base_scale = max(0.35, min(height, width) / 900)
    for face, attrs in zip(faces, attributes, strict=True):
        cv2.rectangle(canvas, (face.x, face.y), (face.x + face.width - 1, face.y + face.height - 1),
                      GREEN, line)
        _draw_label(canvas, face_label(attrs), face, base_scale)
    return canvas


def _draw_label(canvas: np.ndarray, text: str, face: FaceBox, scale: float) -> None:
    height, width = canvas.shape[:2]
    thickness = max(1, round(scale * 1.6))
    (text_w, text_h), baseline = cv2.getTextSize(text, FONT, scale, thickness)
    if text_w + 4 > width:  # a narrow image: shrink the text until it fits
        scale *= (width - 4) / (text_w + 4)
        thickness = max(1, round(scale * 1.6))
        (text_w, text_h), baseline = cv2.getTextSize(text, FONT, scale, thickness)
    pad = max(2, text_h // 4)
    box_h = text_h + baseline + 2 * pad
    left = min(max(0, face.x), max(0, width - text_w - 2 * pad))
    top = face.y - box_h if face.y - box_h >= 0 else min(face.y + face.height, height - box_h)
    top = max(0, top)
    cv2.rectangle(canvas, (left, top), (left + text_w + 2 * pad, top + box_h), GREEN, cv2.FILLED)
    cv2.putText(canvas, text, (left + pad, top + pad + text_h), FONT, scale, BLACK, thickness,
                cv2.LINE_AA)


def encode_jpeg(image: np.ndarray) -> bytes:
    """JPEG bytes of a BGR image."""
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return encoded.tobytes()
