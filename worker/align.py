"""Five-point landmarks and dlib-style face chips, cut with OpenCV.

The Cydral networks were trained on chips made by dlib's `get_face_chip_details` +
`extract_image_chip` (padding 0.2). Reproducing that geometry, not just "a crop around the face",
is what makes their age estimates good, so the constants below are dlib's own.
"""

from __future__ import annotations

import cv2
import dlib
import numpy as np

from worker.faces import FaceBox
from worker.options import PipelineOptions

CHIP_PADDING = 0.2

# dlib's mean positions of the five-point model's landmarks (outer and inner corner of each eye,
# base of the nose) on a unit face, from dlib's get_face_chip_details.
_FIVE_POINT_TEMPLATE = np.array(
    [
        (0.8595674595992, 0.2134981538014),
        (0.6460604764104, 0.2289674387677),
        (0.1205750620789, 0.2137274526848),
        (0.3340850613712, 0.2290642403242),
        (0.4901123135679, 0.6277975316475),
    ]
)


# Per halving, dlib's pyramid_down<2> grid sits this far from OpenCV's pyrDown grid (x, y), in
# halved pixels; fitted against dlib.get_face_chip (tests/unit/test_align.py compares them).
_PYRAMID_SHIFT = np.array([0.25, -0.25])


def landmark_box(box: FaceBox, options: PipelineOptions) -> FaceBox:
    """The box dlib's HOG detector would most likely have drawn around the same face (the box
    the landmark model was trained on), or the box itself when the options say so."""
    if not options.hog_box:
        return box
    mean_side = (box.width + box.height) / 2
    side = round(options.hog_box_side * mean_side)
    centre_x = box.x + box.width / 2 + options.hog_box_shift[0] * mean_side
    centre_y = box.y + box.height / 2 + options.hog_box_shift[1] * mean_side
    return FaceBox(round(centre_x - side / 2), round(centre_y - side / 2), side, side, box.score)


class Landmarker:
    """dlib's five-point shape predictor, loaded once."""

    def __init__(self, path: str) -> None:
        self._predictor = dlib.shape_predictor(path)

    def landmarks(self, image: np.ndarray, box: FaceBox) -> np.ndarray:
        """The five landmarks (5x2 float, x then y) of the face in the box (a dlib-style box:
        see `landmark_box`)."""
        # dlib copies whatever array it is given, so hand it only the face and its surroundings
        # (the model samples pixels within the box's neighbourhood), not a 24 MP photo per face.
        height, width = image.shape[:2]
        left, top = max(0, box.x - box.width), max(0, box.y - box.height)
        right = min(width, box.x + 2 * box.width)
        bottom = min(height, box.y + 2 * box.height)
        region = np.ascontiguousarray(image[top:bottom, left:right])
        rect = dlib.rectangle(
            box.x - left, box.y - top, box.x - left + box.width - 1, box.y - top + box.height - 1
        )
        shape = self._predictor(region, rect)
        points = [(shape.part(i).x + left, shape.part(i).y + top) for i in range(5)]
        return np.array(points, dtype=np.float64)


def _similarity(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least-squares rotation+scale+translation (Umeyama) mapping source points onto target."""
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    src, dst = source - source_mean, target - target_mean
    u, s, vt = np.linalg.svd(dst.T @ src / len(source))
    d = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[1, 1] = -1
    rotation = u @ d @ vt
    scale = np.trace(np.diag(s) @ d) / ((src**2).sum() / len(source))
    matrix = np.empty((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = target_mean - scale * rotation @ source_mean
    return matrix


def face_frame(landmarks: np.ndarray) -> np.ndarray:
    """The least-squares similarity (2x3) from dlib's unit face template onto the landmarks.

    Computed once per face: every chip of the face, at any size and padding, derives from it.
    """
    return _similarity(_FIVE_POINT_TEMPLATE, landmarks)


def chip_transform(frame: np.ndarray, size: int, padding: float = CHIP_PADDING) -> np.ndarray:
    """The 2x3 affine map from chip pixels to image pixels that dlib's chip extraction uses.

    dlib fits a similarity from the padded template, (padding + unit) / (1 + 2 padding) * size,
    to the landmarks; that is the face frame with the template's centre (0.5, 0.5) at the chip's
    centre and a side of (1 + 2 padding) unit faces. dlib then maps the chip's corner pixels onto
    that rectangle's corner pixels, so the pixel scale is (side - 1) / (size - 1), not side / size.
    """
    linear = frame[:, :2]
    centre = linear @ np.array([0.5, 0.5]) + frame[:, 2]
    side = float(np.hypot(*linear[:, 0])) * (1 + 2 * padding)
    angle = float(np.arctan2(linear[1, 0], linear[0, 0]))
    step = (side - 1) / (size - 1)
    cos, sin = np.cos(angle) * step, np.sin(angle) * step
    half = (size - 1) / 2
    # chip (half, half) lands on the centre; rotation by `angle` and scale by `step` about it
    return np.array(
        [
            [cos, -sin, centre[0] - cos * half + sin * half],
            [sin, cos, centre[1] - sin * half - cos * half],
        ]
    )


def extract_chip(image: np.ndarray, to_image: np.ndarray, size: int) -> np.ndarray:
    """Cut a size x size chip through the chip->image map, pre-shrinking big faces like dlib.

    dlib halves the image with a Gaussian pyramid while the face would still cover more pixels
    than the chip, then samples bilinearly; that pre-blur is what keeps small chips unaliased.
    """
    scale = float(np.hypot(*to_image[:, 0]))
    source, matrix = image, to_image.copy()
    while scale > 2.0 and min(source.shape[:2]) > 8:
        region = _region(matrix, size, source.shape)
        source = cv2.pyrDown(source[region])
        offset = np.array([region[1].start, region[0].start])
        matrix[:, 2] -= offset
        matrix /= 2
        matrix[:, 2] -= _PYRAMID_SHIFT
        scale /= 2
    return cv2.warpAffine(
        source,
        matrix,
        (size, size),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0),
    )


def _region(matrix: np.ndarray, size: int, shape: tuple[int, ...]) -> tuple[slice, slice]:
    """The image rows and columns the chip reads (with a margin), so only they are shrunk."""
    corners = np.array([[0, 0, 1], [size - 1, 0, 1], [0, size - 1, 1], [size - 1, size - 1, 1]])
    points = corners @ matrix.T
    margin = 4 * float(np.hypot(*matrix[:, 0]))
    x0, y0 = np.floor(points.min(axis=0) - margin).astype(int)
    x1, y1 = np.ceil(points.max(axis=0) + margin).astype(int)
    # Even start offsets keep the halved grid aligned with the full image's pixel grid.
    x0, y0 = max(0, x0 - x0 % 2), max(0, y0 - y0 % 2)
    return slice(y0, max(y0 + 2, min(shape[0], y1))), slice(x0, max(x0 + 2, min(shape[1], x1)))
