"""res10's ONNX body quantised to int8 (NNCF post-training quantisation, QDQ ONNX that OpenVINO
runs with int8 kernels), at model-build time only: NNCF and onnxruntime, which it calibrates
with, are build dependencies (the `quantise` extra), not the worker image's.

Calibration: the public-domain congress portraits committed in calibration/congress (US federal
works; SOURCES.csv names each one's source and pins its SHA-256), fed as the detector feeds them.
The same inputs give the same bytes (min-max statistics over a fixed set in a fixed order; the
manifest pins the hash), and a build-time parity check compares the result's detections with the
fp32 body's on the same portraits (ConversionMismatch if a face is lost or moved).
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import cv2
import numpy as np
import openvino as ov
import openvino.properties as props
import openvino.properties.hint as hints

from worker.conversion.check import ConversionMismatch, iou
from worker.models.prototxt import Deploy
from worker.models.res10 import DETECTOR_INPUT, DETECTOR_MEAN, sticks_out_of_a_corner
from worker.models.ssd import detection_output, head_blobs, ssd_spec
from worker.options import SHIPPED
from worker.shrink import shrink

CALIBRATION_DIR = Path(__file__).resolve().parents[2] / "calibration" / "congress"
# Build-time parity: every fp32 detection the pipeline would keep (scoring at least this, not
# res10's phantom off a corner) is found by the int8 body, scoring at most SCORE_MARGIN less,
# with boxes overlapping at least MIN_IOU.
CHECKED_SCORE = 0.5
SCORE_MARGIN = 0.1
MIN_IOU = 0.9


def calibration_blobs(directory: Path = CALIBRATION_DIR) -> list[np.ndarray]:
    """The detector's 300x300 input for each calibration portrait, in SOURCES.csv's order;
    ConversionMismatch if a portrait is missing or not the bytes its source gave."""
    blobs = []
    with (directory / "SOURCES.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            data = (directory / row["file"]).read_bytes()
            if hashlib.sha256(data).hexdigest() != row["sha256"]:
                raise ConversionMismatch(f"calibration photo {row['file']} has changed")
            image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            if image is None:
                raise ConversionMismatch(f"calibration photo {row['file']} does not decode")
            resized = shrink(image, DETECTOR_INPUT)
            blobs.append(cv2.dnn.blobFromImage(resized, 1.0, DETECTOR_INPUT, DETECTOR_MEAN))
    return blobs


def quantise_res10(fp32_onnx: Path, blobs: list[np.ndarray]) -> bytes:
    """The int8 ONNX of res10's body, calibrated on `blobs` (every one of them)."""
    import nncf
    import onnx

    model = onnx.load(str(fp32_onnx))
    dataset = nncf.Dataset(blobs, lambda blob: {model.graph.input[0].name: blob})
    # The loc/conf heads stay fp32: quantised, they moved weak candidates' scores enough that the
    # closer look missed a small face of a tiled test photo; they are a few percent of the time.
    heads = [
        node.name for node in model.graph.node if node.op_type == "Conv" and "_mbox_" in node.name
    ]
    quantised = nncf.quantize(
        model,
        dataset,
        subset_size=len(blobs),
        preset=nncf.QuantizationPreset.PERFORMANCE,
        ignored_scope=nncf.IgnoredScope(names=heads),
    )
    return quantised.SerializeToString()


def _body(path: Path) -> ov.InferRequest:
    """An fp32 OpenVINO body at the detector's input size (the int8 one's int8 kernels too)."""
    core = ov.Core()
    model = core.read_model(path)
    model.reshape({model.inputs[0]: ov.PartialShape([1, 3, *reversed(DETECTOR_INPUT)])})
    config = {hints.inference_precision: ov.Type.f32, props.inference_num_threads: 1}
    return core.compile_model(model, "CPU", config).create_infer_request()


def _detections(
    body: ov.InferRequest, deploy: Deploy, blob: np.ndarray, floor: float
) -> np.ndarray:
    """The body's detections scoring at least `floor`, without those off a corner."""
    outputs = {out.get_any_name(): value for out, value in body.infer({0: blob}).items()}
    loc, conf = (outputs[name][0] for name in head_blobs(deploy))
    width, height = DETECTOR_INPUT
    rows = detection_output(ssd_spec(deploy), loc, conf, height, width, floor)
    overhang = SHIPPED.corner_overhang
    kept = [
        row
        for row in rows
        if not sticks_out_of_a_corner(
            float(row[3]), float(row[4]), float(row[5]), float(row[6]), overhang
        )
    ]
    return np.array(kept).reshape(-1, 7)


def check_int8(
    deploy: Deploy, fp32_onnx: Path, int8_onnx: Path, blobs: list[np.ndarray]
) -> list[str]:
    """Both bodies (OpenVINO) on each blob: each fp32 face found by the int8 body too, boxes
    within MIN_IOU; ConversionMismatch naming the portraits where one is not. One summary
    line: faces compared, the smallest overlap and the largest score change."""
    fp32, int8 = _body(fp32_onnx), _body(int8_onnx)
    worst_iou, worst_score, faces, failed = 1.0, 0.0, 0, []
    for index, blob in enumerate(blobs):
        expected = _detections(fp32, deploy, blob, CHECKED_SCORE)
        got = _detections(int8, deploy, blob, CHECKED_SCORE - SCORE_MARGIN)
        for row in expected:
            overlaps = [iou(row[3:], other[3:]) for other in got]
            best = int(np.argmax(overlaps)) if overlaps else -1
            if best < 0 or overlaps[best] < MIN_IOU:
                failed.append(index)
                continue
            faces += 1
            worst_iou = min(worst_iou, overlaps[best])
            worst_score = max(worst_score, abs(float(row[2] - got[best][2])))
    if failed:
        raise ConversionMismatch(
            f"{int8_onnx.name} loses or moves faces on calibration photos {sorted(set(failed))}"
        )
    return [
        f"{faces} faces of {len(blobs)} portraits as fp32 finds them: "
        f"min IoU {worst_iou:.3f}, max |dscore| {worst_score:.3f}"
    ]
