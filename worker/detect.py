"""Face detection with OpenCV's res10 SSD (300x300 input), with a closer look at weak candidates."""

from __future__ import annotations

import cv2
import numpy as np

from worker.faces import FaceBox

DETECTOR_INPUT = (300, 300)
# The Caffe model was trained on BGR inputs with these per-channel means subtracted.
DETECTOR_MEAN = (104.0, 177.0, 123.0)

# res10 has a phantom: a box from about (0.56, 0.49) to past the bottom-right corner, scored up
# to 0.99, on many plain portraits (70 of 246 congress photos). A real face is rarely cut by two
# edges of the frame at once, so boxes that overhang two adjacent edges are dropped.
CORNER_OVERHANG = 0.015
# Height / width of res10's boxes around real faces in ../shared/eval ranged from 0.94 to 1.64;
# its false positives on torsos and posters are taller (2.2).
ASPECT_LIMITS = (0.5, 2.0)

# A face that is small in the 300x300 input (a group photo) may score below the threshold there.
# Candidates scoring at least CANDIDATE_SCORE are looked at again on a crop of VERIFY_CONTEXT box
# sides around them, at VERIFY_INPUT, where the face is as large as res10 likes; they count when
# that closer look scores them at the threshold. On ../shared/eval the closer look scored the 3
# faces the single pass missed in groups at 0.67 to 1.0 and the 21 other candidates (portraits,
# plates, shirts) at 0.40 or less; it ran on 20 of 556 photos.
CANDIDATE_SCORE = 0.2
VERIFY_CONTEXT = 2.5
VERIFY_INPUT = (200, 200)
# Two boxes overlapping more than this (intersection over union) are the same face.
SAME_FACE_IOU = 0.3


def _shrink(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The image at `size`: halved with a Gaussian pyramid while over twice that, then
    bilinear. As sharp as INTER_AREA without aliasing, at a tenth of its cost."""
    while image.shape[0] > 2 * size[1] and image.shape[1] > 2 * size[0]:
        image = cv2.pyrDown(image)
    return cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)


def _sticks_out_of_a_corner(x1: float, y1: float, x2: float, y2: float) -> bool:
    out_left, out_right = x1 < -CORNER_OVERHANG, x2 > 1 + CORNER_OVERHANG
    out_top, out_bottom = y1 < -CORNER_OVERHANG, y2 > 1 + CORNER_OVERHANG
    return (out_left or out_right) and (out_top or out_bottom)


def _face_shaped(width: int, height: int) -> bool:
    return ASPECT_LIMITS[0] <= height / width <= ASPECT_LIMITS[1]


def _detections(
    net: cv2.dnn.Net, image: np.ndarray, size: tuple[int, int], min_score: float
) -> list[FaceBox]:
    """One forward pass at `size`: plausible boxes scoring at least min_score, clipped."""
    height, width = image.shape[:2]
    net.setInput(cv2.dnn.blobFromImage(_shrink(image, size), 1.0, size, DETECTOR_MEAN))
    detections = net.forward()[0, 0]  # rows: (image_id, class, score, x1, y1, x2, y2), relative
    boxes = []
    for _, _, score, x1, y1, x2, y2 in detections[detections[:, 2] >= min_score]:
        if _sticks_out_of_a_corner(x1, y1, x2, y2):
            continue
        left = round(float(np.clip(x1, 0.0, 1.0)) * width)
        top = round(float(np.clip(y1, 0.0, 1.0)) * height)
        right = round(float(np.clip(x2, 0.0, 1.0)) * width)
        bottom = round(float(np.clip(y2, 0.0, 1.0)) * height)
        if right - left < 2 or bottom - top < 2:
            continue
        if not _face_shaped(right - left, bottom - top):
            continue
        boxes.append(FaceBox(left, top, right - left, bottom - top, round(float(score), 4)))
    return boxes


def _iou(a: FaceBox, b: FaceBox) -> float:
    across = min(a.x + a.width, b.x + b.width) - max(a.x, b.x)
    down = min(a.y + a.height, b.y + b.height) - max(a.y, b.y)
    if across <= 0 or down <= 0:
        return 0.0
    overlap = across * down
    return overlap / (a.width * a.height + b.width * b.height - overlap)


def _is_new(box: FaceBox, faces: list[FaceBox]) -> bool:
    return all(_iou(box, face) <= SAME_FACE_IOU for face in faces)


def _look_closer(
    net: cv2.dnn.Net, image: np.ndarray, candidate: FaceBox, min_score: float
) -> FaceBox | None:
    """The candidate's face as res10 sees it on a zoomed crop around it, if it scores there."""
    height, width = image.shape[:2]
    side = VERIFY_CONTEXT * max(candidate.width, candidate.height)
    centre_x, centre_y = candidate.x + candidate.width / 2, candidate.y + candidate.height / 2
    left, top = max(0, round(centre_x - side / 2)), max(0, round(centre_y - side / 2))
    right, bottom = min(width, round(centre_x + side / 2)), min(height, round(centre_y + side / 2))
    for box in _detections(net, image[top:bottom, left:right], VERIFY_INPUT, min_score):
        found = FaceBox(box.x + left, box.y + top, box.width, box.height, box.score)
        if _iou(found, candidate) > SAME_FACE_IOU:
            return found
    return None


def detect_faces(net: cv2.dnn.Net, image: np.ndarray, min_score: float) -> list[FaceBox]:
    """Faces scoring at least min_score, boxes clipped to the image, highest score first."""
    candidates = _detections(net, image, DETECTOR_INPUT, min(min_score, CANDIDATE_SCORE))
    faces = [box for box in candidates if box.score >= min_score]
    for candidate in candidates:
        if candidate.score < min_score and _is_new(candidate, faces):
            found = _look_closer(net, image, candidate, min_score)
            if found is not None and _is_new(found, faces):
                faces.append(found)
    return sorted(faces, key=lambda face: face.score, reverse=True)
