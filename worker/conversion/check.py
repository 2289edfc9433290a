"""Build-time check of a converted res10: the ONNX body (run by cv2.dnn's ONNX reader) plus the
numpy post-processing against cv2.dnn running the Caffe original, on a few images."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from worker.models.prototxt import read_deploy
from worker.models.res10 import DETECTOR_INPUT, DETECTOR_MEAN
from worker.models.ssd import detection_output, head_blobs, ssd_spec

# Largest allowed |ONNX - Caffe| on softmax scores and relative box corners, and on the raw loc
# offsets (scaled by variances of 0.1-0.2 before they move a corner).
SCORE_TOLERANCE = 1e-4
LOC_TOLERANCE = 1e-3
# Detections compared end to end: those scoring at least this (the pipeline looks at nothing
# below 0.2). Below it, near-ties (a blank image has many boxes scoring the same to 1e-7) let
# differences of 1e-7 swap which of two overlapping boxes NMS keeps.
COMPARED_SCORE = 0.1
# Boxes of the two models are the same detection when they overlap this much.
SAME_BOX_IOU = 0.999


@dataclass(frozen=True, slots=True)
class Comparison:
    """Max abs differences between the converted model and cv2.dnn's Caffe run on one image."""

    image: str
    loc: float
    conf: float
    # numpy DetectionOutput on the Caffe heads vs cv2.dnn's detection_out (all rows)
    postprocess: float
    detections: int  # cv2.dnn's detections scoring at least COMPARED_SCORE
    # ONNX heads + numpy DetectionOutput vs cv2.dnn's detection_out, over those detections
    detections_diff: float  # inf when they do not pair up one to one

    @property
    def within_tolerance(self) -> bool:
        return (
            self.loc <= LOC_TOLERANCE
            and self.conf <= SCORE_TOLERANCE
            and self.postprocess <= SCORE_TOLERANCE
            and self.detections_diff <= SCORE_TOLERANCE
        )

    def __str__(self) -> str:
        return (
            f"{self.image}: max |diff| mbox_loc {self.loc:.2e}, mbox_conf {self.conf:.2e}, "
            f"post-processing {self.postprocess:.2e}, "
            f"{self.detections} detections {self.detections_diff:.2e}"
        )


class ConversionMismatch(RuntimeError):
    """The converted model's outputs differ from the Caffe original beyond the tolerances."""


def caffe_detections(raw: np.ndarray, background_label: int) -> np.ndarray:
    """cv2.dnn's detection_out rows without its zero padding up to keep_top_k."""
    rows = raw.reshape(-1, 7)
    return rows[rows[:, 1] != background_label]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes."""
    across = min(a[2], b[2]) - max(a[0], b[0])
    down = min(a[3], b[3]) - max(a[1], b[1])
    if across <= 0 or down <= 0:
        return 0.0
    inter = across * down
    return float(inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter))


def rows_diff(expected: np.ndarray, got: np.ndarray) -> float:
    """Max |difference| between two sets of detection rows paired by box overlap (each
    expected row with the got row of the same label overlapping it most); inf when they do not
    pair up one to one at SAME_BOX_IOU."""
    if expected.shape != got.shape:
        return float("inf")
    unused = list(range(len(got)))
    worst = 0.0
    for row in expected:
        overlaps = [iou(row[3:], got[j, 3:]) if got[j, 1] == row[1] else 0.0 for j in unused]
        if not overlaps or max(overlaps) < SAME_BOX_IOU:
            return float("inf")
        match = unused.pop(int(np.argmax(overlaps)))
        worst = max(worst, float(np.abs(row - got[match]).max()))
    return worst


def check_images() -> Iterator[tuple[str, np.ndarray]]:
    """BGR images to compare on: blank and patterned ones always, and the astronaut portrait
    (alone and tiled 3x2) where scikit-image is installed (not in the worker image)."""
    yield "blank", np.full((300, 300, 3), 128, dtype=np.uint8)
    rng = np.random.default_rng(0)
    yield "noise tiles", np.tile(rng.integers(0, 256, (75, 100, 3), dtype=np.uint8), (4, 4, 1))
    if importlib.util.find_spec("skimage") is not None:
        from skimage import data

        astronaut = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
        yield "astronaut", astronaut
        yield "astronaut tiled 3x2", np.tile(astronaut, (2, 3, 1))


def compare_with_caffe(
    prototxt: Path, caffemodel: Path, onnx_path: Path, images: Iterator[tuple[str, np.ndarray]]
) -> list[Comparison]:
    """Both models on each image at the detector's input size, as worker/detect.py feeds it."""
    spec = ssd_spec(read_deploy(prototxt.read_text()))
    loc_blob, conf_blob = head_blobs(spec.deploy)
    caffe = cv2.dnn.readNetFromCaffe(str(prototxt), str(caffemodel))
    converted = cv2.dnn.readNetFromONNX(str(onnx_path))
    width, height = DETECTOR_INPUT
    comparisons = []
    for name, image in images:
        blob = cv2.dnn.blobFromImage(image, 1.0, DETECTOR_INPUT, DETECTOR_MEAN)
        caffe.setInput(blob)
        loc, conf, raw = caffe.forward([loc_blob, conf_blob, "detection_out"])
        converted.setInput(blob)
        onnx_loc, onnx_conf = converted.forward([loc_blob, conf_blob])
        expected = caffe_detections(raw, spec.detection.background_label)
        ours = detection_output(spec, loc[0], conf[0], height, width)
        got = detection_output(spec, onnx_loc[0], onnx_conf[0], height, width)
        strong = expected[expected[:, 2] >= COMPARED_SCORE]
        comparisons.append(
            Comparison(
                image=name,
                loc=float(np.abs(loc - onnx_loc).max()),
                conf=float(np.abs(conf - onnx_conf).max()),
                postprocess=rows_diff(expected, ours),
                detections=len(strong),
                detections_diff=rows_diff(strong, got[got[:, 2] >= COMPARED_SCORE]),
            )
        )
    return comparisons


def verify_conversion(prototxt: Path, caffemodel: Path, onnx_path: Path) -> list[Comparison]:
    """Compare on check_images(); raise ConversionMismatch naming each image out of tolerance."""
    comparisons = compare_with_caffe(prototxt, caffemodel, onnx_path, check_images())
    failed = [str(c) for c in comparisons if not c.within_tolerance]
    if failed:
        raise ConversionMismatch(
            f"{onnx_path.name} differs from the Caffe model beyond tolerance "
            f"(scores {SCORE_TOLERANCE}, loc {LOC_TOLERANCE}): " + "; ".join(failed)
        )
    return comparisons
