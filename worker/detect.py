"""Face detection with OpenCV's res10 SSD (300x300 input)."""

from __future__ import annotations

import cv2
import numpy as np

from worker.faces import FaceBox

DETECTOR_INPUT = (300, 300)
# The Caffe model was trained on BGR inputs with these per-channel means subtracted.
DETECTOR_MEAN = (104.0, 177.0, 123.0)


def _shrink(image: np.ndarray) -> np.ndarray:
    """The image at 300x300: halved with a Gaussian pyramid while over twice that, then
    bilinear. As sharp as INTER_AREA without aliasing, at a tenth of its cost."""
    while min(image.shape[:2]) > 2 * DETECTOR_INPUT[0]:
        image = cv2.pyrDown(image)
    return cv2.resize(image, DETECTOR_INPUT, interpolation=cv2.INTER_LINEAR)


# res10 has a phantom: a box from about (0.56, 0.49) to past the bottom-right corner, scored up
# to 0.99, on many plain portraits (70 of 246 congress photos). A real face is rarely cut by two
# edges of the frame at once, so boxes that overhang two adjacent edges are dropped.
CORNER_OVERHANG = 0.015


def _sticks_out_of_a_corner(x1: float, y1: float, x2: float, y2: float) -> bool:
    out_left, out_right = x1 < -CORNER_OVERHANG, x2 > 1 + CORNER_OVERHANG
    out_top, out_bottom = y1 < -CORNER_OVERHANG, y2 > 1 + CORNER_OVERHANG
    return (out_left or out_right) and (out_top or out_bottom)


def detect_faces(net: cv2.dnn.Net, image: np.ndarray, min_score: float) -> list[FaceBox]:
    """Faces scoring at least min_score, boxes clipped to the image, highest score first."""
    height, width = image.shape[:2]
    blob = cv2.dnn.blobFromImage(
        _shrink(image),
        1.0,
        DETECTOR_INPUT,
        DETECTOR_MEAN,
        swapRB=False,
        crop=False,
    )
    net.setInput(blob)
    detections = net.forward()[0, 0]  # rows: (image_id, class, score, x1, y1, x2, y2), relative
    kept = detections[detections[:, 2] >= min_score]
    faces = []
    for _, _, score, x1, y1, x2, y2 in kept:
        if _sticks_out_of_a_corner(x1, y1, x2, y2):
            continue
        left = round(float(np.clip(x1, 0.0, 1.0)) * width)
        top = round(float(np.clip(y1, 0.0, 1.0)) * height)
        right = round(float(np.clip(x2, 0.0, 1.0)) * width)
        bottom = round(float(np.clip(y2, 0.0, 1.0)) * height)
        if right - left < 2 or bottom - top < 2:
            continue
        faces.append(FaceBox(left, top, right - left, bottom - top, round(float(score), 4)))
    return sorted(faces, key=lambda face: face.score, reverse=True)
