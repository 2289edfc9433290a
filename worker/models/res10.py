"""Face detection with OpenCV's res10 SSD (300x300 input), with a closer look at weak candidates.

The accuracy choices (box filters, the closer look) are PipelineOptions fields; the reasons for
their values are next to them in worker/options.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from shared.result_values import INT8
from worker.models.prototxt import read_deploy
from worker.models.ssd import SsdSpec, detection_output, head_blobs, prior_boxes, ssd_spec
from worker.faces import FaceBox
from worker.models.base import role_network
from worker.models.engine import Engine, Network, load_caffe
from worker.options import PipelineOptions
from worker.shrink import shrink

DETECTOR_INPUT = (300, 300)
# The Caffe model was trained on BGR inputs with these per-channel means subtracted.
DETECTOR_MEAN = (104.0, 177.0, 123.0)


def sticks_out_of_a_corner(x1: float, y1: float, x2: float, y2: float, overhang: float) -> bool:
    """Whether a box (relative coordinates) overhangs two adjacent edges by more than overhang."""
    out_left, out_right = x1 < -overhang, x2 > 1 + overhang
    out_top, out_bottom = y1 < -overhang, y2 > 1 + overhang
    return (out_left or out_right) and (out_top or out_bottom)


def face_shaped(width: int, height: int, limits: tuple[float, float]) -> bool:
    return limits[0] <= height / width <= limits[1]


def box_iou(a: FaceBox, b: FaceBox) -> float:
    across = min(a.x + a.width, b.x + b.width) - max(a.x, b.x)
    down = min(a.y + a.height, b.y + b.height) - max(a.y, b.y)
    if across <= 0 or down <= 0:
        return 0.0
    overlap = across * down
    return overlap / (a.width * a.height + b.width * b.height - overlap)


class SsdNetwork(Protocol):
    """res10 with its detection output: one image's rows (image, class, score, x1, y1, x2, y2),
    relative, every row scoring at least min_score among them."""

    def detections(self, blob: np.ndarray, min_score: float) -> np.ndarray: ...


class CaffeSsd:
    """The Caffe original in cv2.dnn, DetectionOutput included: the reference."""

    def __init__(self, network: Network) -> None:
        self.network = network

    def detections(self, blob: np.ndarray, min_score: float) -> np.ndarray:
        return self.network.run(blob)[0, 0]


class ConvertedSsd:
    """The ONNX body on any engine, with PriorBox and DetectionOutput in numpy (priors kept per
    input size)."""

    def __init__(self, body: Network, spec: SsdSpec) -> None:
        self.body, self.spec = body, spec
        self.heads = head_blobs(spec.deploy)
        self._priors: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def detections(self, blob: np.ndarray, min_score: float) -> np.ndarray:
        height, width = blob.shape[2:]
        if (height, width) not in self._priors:
            self._priors[height, width] = prior_boxes(self.spec, height, width)
        outputs = self.body.outputs(blob)
        loc, conf = (outputs[name][0] for name in self.heads)
        priors = self._priors[height, width]
        return detection_output(self.spec, loc, conf, height, width, min_score, priors)


class Res10Detector:
    """res10 through any engine, with the box filters and closer look of `options`."""

    def __init__(self, network: SsdNetwork, options: PipelineOptions) -> None:
        self.network = network
        self.options = options

    def detections(
        self, image: np.ndarray, size: tuple[int, int], min_score: float
    ) -> list[FaceBox]:
        """One forward pass at `size`: plausible boxes scoring at least min_score, clipped."""
        height, width = image.shape[:2]
        blob = cv2.dnn.blobFromImage(shrink(image, size), 1.0, size, DETECTOR_MEAN)
        detections = self.network.detections(blob, min_score)
        boxes = []
        for _, _, score, x1, y1, x2, y2 in detections[detections[:, 2] >= min_score]:
            if sticks_out_of_a_corner(x1, y1, x2, y2, self.options.corner_overhang):
                continue
            left = round(float(np.clip(x1, 0.0, 1.0)) * width)
            top = round(float(np.clip(y1, 0.0, 1.0)) * height)
            right = round(float(np.clip(x2, 0.0, 1.0)) * width)
            bottom = round(float(np.clip(y2, 0.0, 1.0)) * height)
            if right - left < 2 or bottom - top < 2:
                continue
            if not face_shaped(right - left, bottom - top, self.options.aspect_limits):
                continue
            boxes.append(FaceBox(left, top, right - left, bottom - top, round(float(score), 4)))
        return boxes

    def _is_new(self, box: FaceBox, faces: list[FaceBox]) -> bool:
        return all(box_iou(box, face) <= self.options.same_face_iou for face in faces)

    def _look_closer(
        self, image: np.ndarray, candidate: FaceBox, min_score: float
    ) -> FaceBox | None:
        """The candidate's face as res10 sees it on a zoomed crop around it, if it scores there."""
        height, width = image.shape[:2]
        side = self.options.verify_context * max(candidate.width, candidate.height)
        centre_x, centre_y = candidate.x + candidate.width / 2, candidate.y + candidate.height / 2
        left, top = max(0, round(centre_x - side / 2)), max(0, round(centre_y - side / 2))
        right = min(width, round(centre_x + side / 2))
        bottom = min(height, round(centre_y + side / 2))
        crop = image[top:bottom, left:right]
        for box in self.detections(crop, self.options.verify_input, min_score):
            found = FaceBox(box.x + left, box.y + top, box.width, box.height, box.score)
            if box_iou(found, candidate) > self.options.same_face_iou:
                return found
        return None

    def detect(self, image: np.ndarray, min_score: float) -> list[FaceBox]:
        """Faces scoring at least min_score, boxes clipped to the image, highest score first."""
        floor = min(min_score, self.options.candidate_score)
        candidates = self.detections(image, DETECTOR_INPUT, floor)
        faces = [box for box in candidates if box.score >= min_score]
        for candidate in candidates:
            if candidate.score < min_score and self._is_new(candidate, faces):
                found = self._look_closer(image, candidate, min_score)
                if found is not None and self._is_new(found, faces):
                    faces.append(found)
        return sorted(faces, key=lambda face: face.score, reverse=True)


def load(
    model_dir: Path, roles: Mapping[str, str], options: PipelineOptions, engine: Engine
) -> Res10Detector:
    """The pack's res10 detector: the Caffe original (roles detector_weights, detector_config)
    on the reference engine, else its ONNX conversion (detector_onnx; detector_int8, its int8
    quantisation, on an engine running `int8`), prepared for the input sizes it will see."""
    config = model_dir / roles["detector_config"]
    if engine.reference:
        return Res10Detector(
            CaffeSsd(load_caffe(model_dir / roles["detector_weights"], config)), options
        )
    shapes = [(1, 3, height, width) for width, height in (DETECTOR_INPUT, options.verify_input)]
    role = "detector_int8" if engine.precision == INT8 else "detector_onnx"
    body = role_network(engine, model_dir, roles, role, options, shapes)
    return Res10Detector(ConvertedSsd(body, ssd_spec(read_deploy(config.read_text()))), options)
