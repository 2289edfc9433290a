"""The converters that the manifest names for derived files: each writes its target from the
pack's input files, checks it against the original, and returns what it measured."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from worker.conversion.check import verify_conversion
from worker.conversion.res10_onnx import convert_res10

Converter = Callable[[Sequence[Path], Path], list[str]]


def derive_res10_onnx(inputs: Sequence[Path], target: Path) -> list[str]:
    """res10's body and heads as ONNX, checked against cv2.dnn's Caffe run (ConversionMismatch
    beyond tolerance); one line per check image with the max abs differences."""
    prototxt, caffemodel = inputs
    target.write_bytes(convert_res10(prototxt, caffemodel))
    return [str(comparison) for comparison in verify_conversion(prototxt, caffemodel, target)]


CONVERTERS: dict[str, Converter] = {"res10-onnx": derive_res10_onnx}
