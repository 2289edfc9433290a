"""The OpenVINO engine against the reference (cv2.dnn) on real photos: `exact` gives cv2.dnn's
answers, `fast` (bf16 where the CPU has it, AgeGenderNet fp32: test_precision.py) the same faces
and genders and ages within a year, and the default (`int8`: the detector quantised) finds the
same faces and moves answers no more than the reference's own boxes moved by one pixel do."""

from __future__ import annotations

import dataclasses
import functools
import subprocess
import sys
from typing import Any

import cv2
import numpy as np
import openvino as ov
import pytest

from bench.accuracy.noise_gate import one_pixel_moves
from bench.accuracy.parity import EXACT_IOU, EXACT_YEARS, FaceChange, face_changes
from harness.images import astronaut_grid, astronaut_rgb, astronaut_scene, encode
from harness.paths import MODEL_DIR
from shared.result_values import EXACT, FAST, INT8
from shared.settings import Settings, get_settings
from worker.models.engine import OpenCVEngine, cpu_has_bf16, load_engine
from worker.models.prototxt import read_deploy
from worker.models.res10 import DETECTOR_INPUT, DETECTOR_MEAN
from worker.models.ssd import detection_output, head_blobs, ssd_spec
from worker.pipeline import load_pipeline


@functools.cache
def photos() -> dict[str, bytes]:
    """The astronaut and variants: tiled (3x2: one pass; 4x3: faces found by the closer look at
    200x200), on a grainy wall, mirrored, darkened. Made once: the grain is random."""
    rgb = astronaut_rgb()
    images = {
        "astronaut": rgb,
        "grid 3x2": astronaut_grid(3, 2),
        "grid 4x3": astronaut_grid(4, 3),
        "scene": astronaut_scene(960, 640, texture=True),
        "mirrored": np.ascontiguousarray(rgb[:, ::-1]),
        "dark": (rgb * 0.45).astype(np.uint8),
    }
    return {name: encode(image, "JPEG", quality=92) for name, image in images.items()}


def faces_on_photos(engine: str, precision: str) -> dict[str, list[dict[str, Any]]]:
    pipeline = load_pipeline(Settings(model_dir=MODEL_DIR, engine=engine, precision=precision))
    return {name: pipeline.analyze(data).result["faces"] for name, data in photos().items()}


def summary(changes: list[FaceChange]) -> tuple[int, float]:
    """Gender flips and mean |age change| of a variant's faces against the reference's."""
    return sum(c.gender_flip for c in changes), float(np.mean([c.years for c in changes]))


@pytest.fixture(scope="module")
def reference() -> dict[str, list[dict[str, Any]]]:
    return faces_on_photos("opencv", EXACT)


def changes_from_reference(
    reference: dict[str, list[dict[str, Any]]], precision: str
) -> dict[str, list[FaceChange] | None]:
    faces = faces_on_photos("openvino", precision)
    return {name: face_changes(reference[name], faces[name]) for name in reference}


@pytest.fixture(scope="module")
def exact(reference) -> dict[str, list[FaceChange] | None]:  # type: ignore[no-untyped-def]
    return changes_from_reference(reference, EXACT)


@pytest.fixture(scope="module")
def fast(reference) -> dict[str, list[FaceChange] | None]:  # type: ignore[no-untyped-def]
    return changes_from_reference(reference, FAST)


@pytest.fixture(scope="module")
def one_pixel_noise(reference) -> tuple[int, float]:  # type: ignore[no-untyped-def]
    """The most gender flips and the largest mean |age change| the reference itself shows
    against its own answers when its boxes move by one pixel (each direction in turn): the
    noise any computation that is not bit-identical lives in (bench/accuracy/noise_gate.py)."""
    pipeline = load_pipeline(Settings(model_dir=MODEL_DIR, engine="opencv", precision=EXACT))
    noise = []
    for analyse in one_pixel_moves(pipeline).values():
        moved = {
            name: face_changes(reference[name], analyse(data)) for name, data in photos().items()
        }
        if all(c is not None for c in moved.values()):
            noise.append(summary(paired(moved)))
    assert noise, "every one-pixel move changed a face count"
    return max(n[0] for n in noise), max(n[1] for n in noise)


def paired(changes: dict[str, list[FaceChange] | None]) -> list[FaceChange]:
    assert all(c is not None for c in changes.values()), "face counts differ"
    return [change for per_photo in changes.values() if per_photo for change in per_photo]


def test_reference_finds_faces_on_every_photo(reference) -> None:  # type: ignore[no-untyped-def]
    # so that the comparisons below compare something
    assert all(reference.values())
    assert len(reference["grid 4x3"]) > 1


def test_exact_finds_the_same_number_of_faces_on_every_photo(exact) -> None:  # type: ignore[no-untyped-def]
    assert [name for name, changes in exact.items() if changes is None] == []


def test_exact_boxes_are_the_reference_boxes(exact) -> None:  # type: ignore[no-untyped-def]
    assert min(change.iou for change in paired(exact)) >= EXACT_IOU


def test_exact_gives_the_same_genders_and_age_ranges(exact) -> None:  # type: ignore[no-untyped-def]
    changes = paired(exact)
    assert not any(change.gender_flip or change.range_change for change in changes)


def test_exact_ages_are_the_reference_ages(exact) -> None:  # type: ignore[no-untyped-def]
    assert max(change.years for change in paired(exact)) <= EXACT_YEARS


def test_fast_finds_the_same_number_of_faces_on_every_photo(fast) -> None:  # type: ignore[no-untyped-def]
    assert [name for name, changes in fast.items() if changes is None] == []


def test_fast_moves_answers_no_more_than_one_pixel_of_the_reference_does(
    fast, one_pixel_noise
) -> None:  # type: ignore[no-untyped-def]
    flips, years = summary(paired(fast))
    assert flips <= one_pixel_noise[0]
    assert years <= one_pixel_noise[1]


def test_fast_ages_are_within_a_year_where_the_box_is_the_same(fast) -> None:  # type: ignore[no-untyped-def]
    # A box one pixel off moves the landmarks, and the age up to 3 years (identical tiles of
    # "grid 3x2" get 34.6 and 37.6 from the reference itself): that part is the pipeline's own
    # sensitivity to the box, not the classifiers' precision.
    same_box = [change for change in paired(fast) if change.iou >= EXACT_IOU]
    assert len(same_box) >= 10
    assert max(change.years for change in same_box) <= 1.0


def test_int8_is_the_default() -> None:
    assert (Settings().engine, Settings().precision) == ("openvino", INT8)


def test_default_moves_answers_no_more_than_one_pixel_of_the_reference_does(
    reference, one_pixel_noise
) -> None:  # type: ignore[no-untyped-def]
    # bench.accuracy.parity's noise-aware gate on the photos a fresh clone has, for what a
    # fresh clone runs: its default settings.
    default = load_pipeline(Settings(model_dir=MODEL_DIR))
    faces = {name: default.analyze(data).result["faces"] for name, data in photos().items()}
    flips, years = summary(
        paired({name: face_changes(reference[name], faces[name]) for name in faces})
    )
    assert flips <= one_pixel_noise[0]
    assert years <= one_pixel_noise[1]


def test_result_names_the_engine_and_the_precision_it_ran_at() -> None:
    pipeline = load_pipeline(Settings(model_dir=MODEL_DIR, engine="openvino", precision=FAST))
    model = pipeline.analyze(encode(astronaut_rgb())).result["model"]
    assert model["engine"] == "openvino"
    # fast falls back to fp32, and says exact, on a CPU without native bf16
    assert model["precision"] == (FAST if cpu_has_bf16(ov.Core()) else EXACT)


# In a fresh process, whose thread keeps denormal floats until an OpenVINO network runs on it.
FLUSH_CHECK = """
import sys
import numpy as np
from worker.models.engine import load_engine
tiny = np.array([1e-39], dtype=np.float32)
before = float(tiny[0] * 1.0)
network = load_engine("openvino").onnx(sys.argv[1])
network.run(np.zeros((1, 3, 32, 32), np.float32))
print(before, float(tiny[0] * 1.0))
"""


def test_openvino_flushes_denormal_floats() -> None:
    # Kept, they make the age network five times slower on real chips (bench.speed.engines).
    done = subprocess.run(
        [sys.executable, "-c", FLUSH_CHECK, str(MODEL_DIR / "gender-v1.onnx")],
        cwd=MODEL_DIR.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    before, after = (float(value) for value in done.stdout.split())
    assert before > 0
    assert after == 0


def test_opencv_always_runs_exact() -> None:
    assert load_engine("opencv", FAST).precision == EXACT


def test_unknown_engine_or_precision_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown inference engine 'tpu'"):
        load_engine("tpu")
    with pytest.raises(ValueError, match="unknown precision 'int4'"):
        load_engine("openvino", "int4")


def test_engine_and_precision_come_from_the_environment(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("READFACE_ENGINE", "opencv")
    monkeypatch.setenv("READFACE_PRECISION", EXACT)
    settings = get_settings()
    assert (settings.engine, settings.precision) == ("opencv", EXACT)


def test_openvino_runs_batches_of_any_size_as_cv2_does() -> None:
    # Batch sizes vary with the number of faces; none is prepared in advance.
    path = MODEL_DIR / "age-v1.onnx"
    reference, openvino = OpenCVEngine().onnx(path), load_engine("openvino", EXACT).onnx(path)
    rng = np.random.default_rng(0)
    for batch in (1, 2, 7):
        chips = rng.normal(0, 0.5, (batch, 3, 64, 64)).astype(np.float32)
        assert np.abs(openvino.run(chips) - reference.run(chips)).max() < 1e-5


def test_openvino_runs_res10_at_an_unprepared_size_as_cv2_does() -> None:
    # 300x300 and 200x200 are compiled in advance; any other size takes the dynamic model.
    path = MODEL_DIR / "res10_300x300_ssd_iter_140000.onnx"
    reference = OpenCVEngine().onnx(path)
    openvino = load_engine("openvino", EXACT).onnx(path, [(1, 3, 300, 300)])
    image = cv2.cvtColor(astronaut_rgb(), cv2.COLOR_RGB2BGR)
    blob = cv2.dnn.blobFromImage(image, 1.0, (320, 240), DETECTOR_MEAN)
    expected, got = reference.outputs(blob), openvino.outputs(blob)
    for name in head_blobs(
        ssd_spec(read_deploy((MODEL_DIR / "deploy.prototxt").read_text())).deploy
    ):
        assert np.abs(got[name] - expected[name]).max() < 1e-4, name


def test_detection_output_above_a_score_is_the_full_output_filtered() -> None:
    spec = ssd_spec(read_deploy((MODEL_DIR / "deploy.prototxt").read_text()))
    network = OpenCVEngine().onnx(MODEL_DIR / "res10_300x300_ssd_iter_140000.onnx")
    image = cv2.cvtColor(astronaut_grid(3, 2), cv2.COLOR_RGB2BGR)
    outputs = network.outputs(cv2.dnn.blobFromImage(image, 1.0, DETECTOR_INPUT, DETECTOR_MEAN))
    loc, conf = (outputs[name][0] for name in head_blobs(spec.deploy))
    full = detection_output(spec, loc, conf, *DETECTOR_INPUT)
    for floor in (0.05, 0.2, 0.9):
        above = detection_output(spec, loc, conf, *DETECTOR_INPUT, min_score=floor)
        assert len(above) >= 1
        assert np.array_equal(above, full[full[:, 2] >= floor])


def test_levi_hassner_pack_runs_with_the_openvino_engine() -> None:
    # Its CaffeNets stay on cv2.dnn; res10 runs on OpenVINO.
    settings = Settings(model_dir=MODEL_DIR, engine="openvino", precision=EXACT)
    image = encode(astronaut_grid(2, 1))
    reference = load_pipeline(dataclasses.replace(settings, engine="opencv"), "levi-hassner")
    openvino = load_pipeline(settings, "levi-hassner")
    expected = reference.analyze(image).result["faces"]
    changes = face_changes(expected, openvino.analyze(image).result["faces"])
    assert changes is not None and len(changes) == 2
    assert not any(change.gender_flip or change.range_change for change in changes)


def test_int8_finds_the_reference_faces_and_says_int8(reference) -> None:  # type: ignore[no-untyped-def]
    # Its heads stay fp32 (worker/conversion/res10_int8.py): quantised, they lost a small face
    # of "grid 4x3" to the closer look.
    changes = changes_from_reference(reference, INT8)
    assert [name for name, per_photo in changes.items() if per_photo is None] == []
    pipeline = load_pipeline(Settings(model_dir=MODEL_DIR, precision=INT8))
    assert pipeline.analyze(encode(astronaut_rgb())).result["model"]["precision"] == INT8
