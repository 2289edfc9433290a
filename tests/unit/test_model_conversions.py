"""The default pack's other conversions: fer's Keras network to ONNX (the same bytes every time,
the same answers as the package's own TFLite model on the pipeline's chips), and the TF.js
weights reader (dequantised as TF.js does, refusing what it does not understand)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import openvino as ov
import pytest

from harness.images import astronaut_grid
from harness.paths import MODEL_DIR
from shared.manifest import Derivation, load_pack
from worker.conversion.fer_check import FER_TOLERANCE, verify_fer_conversion
from worker.conversion.keras_onnx import convert_keras
from worker.conversion.tfjs_weights import WeightsFormatError, read_weights
from worker.models.faceapi import FaceApiModel, grey_input
from worker.packs import sha256_of

ROLES = load_pack("default").roles


def test_fer_conversion_gives_the_manifest_bytes_every_time() -> None:
    (spec,) = [f for f in load_pack("default").files if f.name == ROLES["expression_fer"]]
    assert isinstance(spec.source, Derivation)
    h5 = MODEL_DIR / ROLES["expression_fer_keras"]
    first = convert_keras(h5, "expression")
    assert first == convert_keras(h5, "expression") and len(first) == spec.size
    assert sha256_of(MODEL_DIR / spec.name) == spec.sha256


def test_fer_onnx_answers_as_fers_own_tflite_model_on_real_chips(pipeline) -> None:
    model = pipeline.attributes
    assert isinstance(model, FaceApiModel)
    image = np.ascontiguousarray(astronaut_grid(3, 2)[:, :, ::-1])
    chips = model.chips(image, pipeline.detector.detect(image, 0.5))
    grey = grey_input(chips)
    net = cv2.dnn.readNetFromONNX(str(MODEL_DIR / ROLES["expression_fer"]))
    net.setInput(grey)
    ours = net.forward()
    core = ov.Core()
    tflite = core.compile_model(MODEL_DIR / ROLES["expression_fer_tflite"], "CPU")
    theirs = np.concatenate([tflite(chip.transpose(1, 2, 0)[None])[0] for chip in grey])
    assert len(chips) == 6
    assert np.abs(ours - theirs).max() < FER_TOLERANCE
    assert (ours.argmax(1) == theirs.argmax(1)).all()
    # the build-time check passes on the fetched files too
    line = verify_fer_conversion(
        MODEL_DIR / ROLES["expression_fer"], MODEL_DIR / ROLES["expression_fer_tflite"]
    )
    assert "top class agrees" in line


def write_weights(folder: Path, specs: list[dict], data: bytes) -> Path:
    (folder / "w.bin").write_bytes(data)
    manifest = folder / "m.json"
    manifest.write_text(json.dumps([{"paths": ["w.bin"], "weights": specs}]))
    return manifest


def test_tfjs_weights_are_dequantised_as_tfjs_does(tmp_path: Path) -> None:
    quantised = {"dtype": "uint8", "scale": 0.5, "min": -1.0}
    specs = [
        {"name": "a", "shape": [2, 2], "dtype": "float32", "quantization": quantised},
        {"name": "b", "shape": [2], "dtype": "float32"},
    ]
    data = bytes([0, 1, 2, 255]) + np.array([1.5, -2.0], "<f4").tobytes()
    weights = read_weights(write_weights(tmp_path, specs, data))
    assert weights["a"].dtype == np.float32
    assert weights["a"].tolist() == [[-1.0, -0.5], [0.0, 126.5]]
    assert weights["b"].tolist() == [1.5, -2.0]


@pytest.mark.parametrize(
    ("specs", "data", "message"),
    [
        ([{"name": "a", "shape": [4], "dtype": "float32"}], b"\0" * 8, "end before its 4"),
        ([{"name": "a", "shape": [1], "dtype": "float32"}], b"\0" * 8, "4 bytes .* unused"),
        ([{"name": "a", "shape": [1], "dtype": "bool"}], b"\0", "dtype bool not supported"),
    ],
)
def test_tfjs_weights_reader_refuses_what_it_does_not_understand(
    tmp_path: Path, specs: list[dict], data: bytes, message: str
) -> None:
    with pytest.raises(WeightsFormatError, match=message):
        read_weights(write_weights(tmp_path, specs, data))
