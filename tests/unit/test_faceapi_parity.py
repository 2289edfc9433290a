"""The default pack's face-api networks, converted from TF.js to ONNX at fetch time: the same
answers as face-api.js's own code on TensorFlow.js under Node (installed from the npm registry,
pinned) on the chips the pipeline cuts, on both engines; the same bytes on every conversion; and
the conversion's TF "SAME" padding."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from bench.accuracy.tfjs_parity import compare, onnx_outputs, tfjs_outputs
from harness.images import astronaut_grid, astronaut_rgb
from harness.paths import MODEL_DIR
from shared.manifest import Derivation, load_pack
from shared.settings import Settings
from worker.conversion.faceapi_onnx import convert_faceapi, same_pads
from worker.models.faceapi import FaceApiModel
from worker.packs import sha256_of
from worker.pipeline import load_pipeline

# Float32 sums in another order: the ages agree to about 1e-4 years, probabilities to 1e-6.
AGE_TOLERANCE = 1e-2
PROBABILITY_TOLERANCE = 1e-4


def photos() -> list[np.ndarray]:
    """The astronaut as photographed, mirrored, turned, darkened, small and greyed, and in a
    grid: faces of many sizes and lightings (BGR)."""
    bgr = np.ascontiguousarray(astronaut_rgb()[:, :, ::-1])
    turned = cv2.warpAffine(bgr, cv2.getRotationMatrix2D((256, 256), 12, 1.0), (512, 512))
    grey = cv2.cvtColor(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    return [
        bgr,
        np.ascontiguousarray(bgr[:, ::-1]),
        turned,
        (bgr * 0.45).astype(np.uint8),
        cv2.resize(bgr, (200, 200), interpolation=cv2.INTER_AREA),
        grey,
        np.ascontiguousarray(astronaut_grid(3, 2)[:, :, ::-1]),
    ]


@pytest.fixture(scope="module")
def chips(pipeline) -> list[np.ndarray]:  # type: ignore[no-untyped-def]
    model = pipeline.attributes
    assert isinstance(model, FaceApiModel)
    cut = []
    for image in photos():
        faces = pipeline.detector.detect(image, 0.5)
        assert faces
        cut += model.chips(image, faces)
    return cut


@pytest.fixture(scope="module")
def reference(chips: list[np.ndarray]) -> dict[str, np.ndarray]:
    return tfjs_outputs(chips, MODEL_DIR)


@pytest.mark.parametrize("engine", ["opencv", "openvino"])
def test_onnx_networks_answer_as_face_api_on_tfjs(
    chips: list[np.ndarray], reference: dict[str, np.ndarray], engine: str
) -> None:
    settings = dataclasses.replace(Settings(model_dir=MODEL_DIR), engine=engine)
    model = load_pipeline(settings, "default", verified=True).attributes
    assert isinstance(model, FaceApiModel)
    parity = compare(reference, onnx_outputs(model, chips))
    assert parity.chips == len(chips) >= 12
    assert parity.age < AGE_TOLERANCE, parity
    assert parity.male < PROBABILITY_TOLERANCE, parity
    assert parity.expression < PROBABILITY_TOLERANCE, parity
    assert parity.gender_flips == parity.expression_flips == 0, parity


def test_the_reference_sees_faces_not_noise(reference: dict[str, np.ndarray]) -> None:
    # The chips are of one woman in her late thirties: a comparison of meaningless outputs
    # (a wrong layout, all chips alike) would pass the parity test too.
    assert np.median(reference["age"]) == pytest.approx(35, abs=12)
    assert (reference["male"] < 0.5).mean() > 0.8
    assert np.ptp(reference["age"]) > 1.0


@pytest.mark.parametrize("network", ["age_gender", "expression"])
def test_conversion_gives_the_manifest_bytes_every_time(network: str) -> None:
    pack = load_pack("default")
    (spec,) = [f for f in pack.files if f.name == pack.roles[network]]
    assert isinstance(spec.source, Derivation)
    manifest, shard = (MODEL_DIR / name for name in spec.source.inputs)
    first = convert_faceapi(network, manifest, [shard])
    assert first == convert_faceapi(network, manifest, [shard])
    assert len(first) == spec.size
    assert sha256_of(MODEL_DIR / spec.name) == spec.sha256


def test_same_padding_puts_the_odd_pixel_after() -> None:
    assert same_pads(112, 3, 2) == (0, 1)  # out 56: (56 - 1) * 2 + 3 - 112 = 1
    assert same_pads(56, 3, 1) == (1, 1)
    assert same_pads(28, 1, 2) == (0, 0)
    assert same_pads(7, 3, 2) == (1, 1)  # odd size: out 4, 2 pixels of padding
