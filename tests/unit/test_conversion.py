"""res10 converted to ONNX at fetch time: the same detections as cv2.dnn's Caffe run, the same
bytes on every conversion, and refused by verification when altered."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from harness.images import astronaut_grid, astronaut_rgb
from harness.paths import MODEL_DIR
from shared.manifest import Derivation, load_pack
from worker.conversion.check import SCORE_TOLERANCE, compare_with_caffe
from worker.conversion.res10_onnx import convert_res10
from worker.models.prototxt import read_deploy
from worker.models.ssd import prior_boxes, ssd_spec
from worker.packs import PackVerificationError, sha256_of, verify_pack

PROTOTXT = MODEL_DIR / "deploy.prototxt"
CAFFEMODEL = MODEL_DIR / "res10_300x300_ssd_iter_140000.caffemodel"
ONNX_NAME = "res10_300x300_ssd_iter_140000.onnx"


def photos() -> list[tuple[str, np.ndarray]]:
    return [
        ("astronaut", cv2.cvtColor(astronaut_rgb(), cv2.COLOR_RGB2BGR)),
        ("astronaut 3x2", cv2.cvtColor(astronaut_grid(3, 2), cv2.COLOR_RGB2BGR)),
    ]


@pytest.fixture(scope="module")
def comparisons():  # type: ignore[no-untyped-def]
    return compare_with_caffe(PROTOTXT, CAFFEMODEL, MODEL_DIR / ONNX_NAME, iter(photos()))


def test_converted_detections_equal_caffe_detections_on_photos(comparisons) -> None:  # type: ignore[no-untyped-def]
    # rows_diff pairs rows one to one (same count) at IoU >= 0.999, then takes the max |diff|
    # of score and corners.
    for comparison in comparisons:
        assert comparison.detections >= 1, comparison
        assert comparison.detections_diff < SCORE_TOLERANCE, comparison


def test_converted_heads_match_caffe_heads(comparisons) -> None:  # type: ignore[no-untyped-def]
    for comparison in comparisons:
        assert comparison.conf < SCORE_TOLERANCE, comparison
        assert comparison.loc < 1e-3, comparison


def test_numpy_detection_output_reproduces_cv2_detection_out(comparisons) -> None:  # type: ignore[no-untyped-def]
    for comparison in comparisons:
        assert comparison.postprocess < 1e-5, comparison


def test_prior_boxes_match_cv2_at_the_closer_look_input_size() -> None:
    net = cv2.dnn.readNetFromCaffe(str(PROTOTXT), str(CAFFEMODEL))
    net.setInput(np.zeros((1, 3, 200, 200), dtype=np.float32))
    expected = net.forward("mbox_priorbox")[0]
    boxes, variances = prior_boxes(ssd_spec(read_deploy(PROTOTXT.read_text())), 200, 200)
    assert boxes.size == expected[0].size
    assert np.abs(boxes.ravel() - expected[0]).max() < 1e-6
    assert np.array_equal(variances.ravel(), expected[1])


def test_conversion_gives_the_manifest_bytes_every_time() -> None:
    (spec,) = [f for f in load_pack("default").files if f.name == ONNX_NAME]
    assert isinstance(spec.source, Derivation)
    first, second = convert_res10(PROTOTXT, CAFFEMODEL), convert_res10(PROTOTXT, CAFFEMODEL)
    assert first == second
    assert sha256_of(MODEL_DIR / ONNX_NAME) == spec.sha256
    assert len(first) == spec.size


def test_verify_refuses_an_altered_derived_file(tmp_path: Path) -> None:
    for spec in load_pack("default").files:
        shutil.copyfile(MODEL_DIR / spec.name, tmp_path / spec.name)
    altered = tmp_path / ONNX_NAME
    data = bytearray(altered.read_bytes())
    data[-100] ^= 0x01
    altered.write_bytes(bytes(data))
    with pytest.raises(PackVerificationError, match=rf"{ONNX_NAME}: altered") as caught:
        verify_pack(load_pack("default"), tmp_path)
    assert len(caught.value.problems) == 1
