"""The pipeline on real photos with the real default pack: faces, boxes, attributes, schema."""

from __future__ import annotations

import dataclasses

import cv2
import jsonschema
import numpy as np
import pytest

from harness.images import astronaut_grid, astronaut_jpeg, astronaut_rgb, encode
from shared.manifest import load_pack
from tests.schemas import component_schema
from worker.models import load_models
from worker.models.base import FaceInputs
from worker.options import SHIPPED

RESULT = component_schema("Result")

# Where the astronaut's face is in the 512x512 portrait (dlib's HOG detector box centre).
FACE_CENTRE = (222, 126)


def centre(face: dict) -> tuple[float, float]:
    box = face["box"]
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def test_astronaut_is_one_woman_of_plausible_age(pipeline) -> None:
    result = pipeline.analyze(astronaut_jpeg()).result
    jsonschema.validate(result, RESULT)
    assert result["image"] == {"width": 512, "height": 512, "format": "jpeg"}
    [face] = result["faces"]
    x, y = centre(face)
    assert abs(x - FACE_CENTRE[0]) < 20 and abs(y - FACE_CENTRE[1]) < 25
    assert 70 < face["box"]["width"] < 130
    assert face["score"] > 0.9
    assert face["gender"]["label"] == "female" and face["gender"]["confidence"] > 0.8
    # Eileen Collins was in her late thirties; the network's usual error is about ten years.
    assert 25 <= face["age"]["years"] <= 50
    # the range is an interval that holds the estimate and at least 80% of the distribution
    low, high = (int(v) for v in face["age"]["range"].split("-"))
    assert low <= face["age"]["years"] <= high and high - low < 30
    assert face["age"]["confidence"] >= 0.8


def test_composite_of_six_finds_each_face_in_its_tile(pipeline) -> None:
    grid = astronaut_grid(columns=3, rows=2)
    result = pipeline.analyze(encode(grid, "JPEG", quality=92)).result
    jsonschema.validate(result, RESULT)
    assert len(result["faces"]) == 6
    tiles = set()
    for face in result["faces"]:
        x, y = centre(face)
        column, row = int(x // 512), int(y // 512)
        assert abs(x - column * 512 - FACE_CENTRE[0]) < 25
        assert abs(y - row * 512 - FACE_CENTRE[1]) < 30
        assert face["gender"]["label"] == "female"
        tiles.add((column, row))
    assert len(tiles) == 6
    scores = [face["score"] for face in result["faces"]]
    assert scores == sorted(scores, reverse=True)


def test_faces_are_classified_in_one_batch_with_per_face_answers(pipeline) -> None:
    image = np.ascontiguousarray(astronaut_grid(columns=3, rows=1)[:, :, ::-1])
    faces = pipeline.detector.detect(image, 0.5)
    inputs = pipeline.attributes.prepare(image, faces)
    views = inputs.views  # chips per face (test-time augmentation)
    assert len(faces) == 3
    assert inputs.gender.shape[0] == inputs.age.shape[0] == 3 * views
    batched = pipeline.attributes.classify(inputs)
    for i, together in enumerate(batched):
        rows = slice(i * views, (i + 1) * views)
        alone_inputs = FaceInputs(inputs.gender[rows], inputs.age[rows], views)
        [alone] = pipeline.attributes.classify(alone_inputs)
        assert alone.gender == together.gender
        assert alone.age_years == pytest.approx(together.age_years, abs=0.1)


def test_no_face_gives_empty_list(pipeline) -> None:
    sky = np.full((300, 400, 3), (135, 180, 230), dtype=np.uint8)
    result = pipeline.analyze(encode(sky, "PNG")).result
    assert result["faces"] == []
    assert result["image"]["format"] == "png"


def test_annotated_image_has_green_box_on_the_face(pipeline) -> None:
    analysis = pipeline.analyze(astronaut_jpeg())
    annotated = cv2.imdecode(np.frombuffer(analysis.annotated_jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert annotated.shape == (512, 512, 3)
    box = analysis.result["faces"][0]["box"]
    left_edge = annotated[box["y"] + 10 : box["y"] + box["height"] - 10, box["x"]].astype(int)
    blue, green, red = np.median(left_edge, axis=0)
    assert green > 200 and red < 90 and blue < 90
    # far from any face the picture is untouched (up to JPEG noise)
    original = astronaut_rgb()[400:, 400:, ::-1].astype(int)
    assert np.abs(annotated[400:, 400:].astype(int) - original).mean() < 6


def test_exif_orientation_is_applied(pipeline) -> None:
    from PIL import Image

    upright = astronaut_rgb()[:, :400]
    stored = np.ascontiguousarray(np.rot90(upright, k=1))  # viewers rotate 90° clockwise back
    exif = Image.Exif()
    exif[0x0112] = 6
    result = pipeline.analyze(encode(stored, "JPEG", exif=exif.tobytes())).result
    assert (result["image"]["width"], result["image"]["height"]) == (400, 512)
    [face] = result["faces"]
    x, y = centre(face)
    assert abs(x - FACE_CENTRE[0]) < 20 and abs(y - FACE_CENTRE[1]) < 25


def test_levi_hassner_pack_runs_for_real(levi_hassner_pipeline) -> None:
    result = levi_hassner_pipeline.analyze(encode(astronaut_grid(2, 1))).result
    jsonschema.validate(result, RESULT)
    assert result["model"]["pack"] == "levi-hassner"
    assert len(result["faces"]) == 2
    for face in result["faces"]:
        low, high = (int(v) for v in face["age"]["range"].split("-"))
        assert face["age"]["years"] == (low + high) / 2
        assert 0 < face["gender"]["confidence"] <= 1
    assert result["faces"][0]["gender"]["label"] == result["faces"][1]["gender"]["label"]


def test_timings_cover_every_stage(pipeline) -> None:
    timings = pipeline.analyze(astronaut_jpeg()).result["timings_ms"]
    stages = {k: v for k, v in timings.items() if k != "total"}
    assert set(stages) == {"decode", "detect", "align", "classify", "annotate"}
    assert all(v > 0 for v in timings.values())
    assert sum(stages.values()) <= timings["total"] + 0.5


def test_big_jpeg_is_decoded_reduced_but_reported_in_full_pixels(pipeline) -> None:
    big = cv2.resize(astronaut_rgb(), (2560, 2560), interpolation=cv2.INTER_CUBIC)
    analysis = pipeline.analyze(encode(big, "JPEG", quality=90))
    result = analysis.result
    assert result["image"] == {"width": 2560, "height": 2560, "format": "jpeg"}
    [face] = result["faces"]
    x, y = centre(face)
    assert abs(x - FACE_CENTRE[0] * 5) < 100 and abs(y - FACE_CENTRE[1] * 5) < 125
    assert face["gender"]["label"] == "female"
    # the annotated copy is drawn on the reduced decode: half the size, a quarter the bytes
    annotated = cv2.imdecode(np.frombuffer(analysis.annotated_jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert annotated.shape == (1280, 1280, 3)


def test_a_pack_of_unknown_kind_is_refused_before_anything_loads(tmp_path) -> None:
    pack = dataclasses.replace(load_pack("default"), kind="mystery")
    with pytest.raises(ValueError, match="unknown kind 'mystery'"):
        load_models(pack, tmp_path, SHIPPED)
