"""Every face's expression (default pack): in the result, averaged from both expression networks,
drawn in the label; and READFACE_ATTRIBUTES=gender,age, which leaves the field out and the
networks unloaded. Packs without an expression network never carry the field."""

from __future__ import annotations

import dataclasses

import cv2
import jsonschema
import numpy as np
import pytest

from harness.images import astronaut_jpeg
from harness.paths import MODEL_DIR
from shared.result_values import EXPRESSIONS
from shared.settings import Settings, get_settings, parse_attributes
from tests.schemas import component_schema
from worker.models.faceapi import FaceApiModel
from worker.pipeline import load_pipeline

RESULT = component_schema("Result")


def test_the_astronauts_broad_smile_reads_happy(pipeline) -> None:
    [face] = pipeline.analyze(astronaut_jpeg()).result["faces"]
    expression = face["expression"]
    assert expression["label"] == "happy" and expression["confidence"] > 0.9
    assert list(expression["scores"]) == list(EXPRESSIONS)
    assert sum(expression["scores"].values()) == pytest.approx(1, abs=1e-3)
    assert expression["confidence"] == max(expression["scores"].values())


def test_the_expression_is_the_mean_of_both_networks(pipeline) -> None:
    model = pipeline.attributes
    assert isinstance(model, FaceApiModel)
    image = cv2.imdecode(np.frombuffer(astronaut_jpeg(), np.uint8), cv2.IMREAD_COLOR)
    dark = (image * 0.5).astype(np.uint8)  # a less certain face: the two networks differ more
    faces = pipeline.detector.detect(dark, 0.5)
    out = model.outputs(model.prepare(dark, faces))
    both = (out["expression_faceapi"] + out["expression_fer"]) / 2
    assert np.allclose(out["expression"], both)
    assert not np.allclose(out["expression_faceapi"], out["expression_fer"], atol=1e-3)
    assert np.allclose(out["expression_fer"].sum(axis=1), 1, atol=1e-4)


def test_expression_left_out_means_no_field_and_no_network(model_settings: Settings) -> None:
    settings = dataclasses.replace(model_settings, attributes=("gender", "age"))
    pipeline = load_pipeline(settings, "default")
    model = pipeline.attributes
    assert isinstance(model, FaceApiModel)
    assert model.expression_net is None and model.fer_net is None
    result = pipeline.analyze(astronaut_jpeg()).result
    jsonschema.validate(result, RESULT)
    [face] = result["faces"]
    assert set(face) == {"box", "score", "gender", "age"}
    # Results made with the expression are not served as if made without it.
    assert result["model"]["version"] != pipeline.pack.fingerprint
    inputs = model.prepare(cv2.imdecode(np.frombuffer(astronaut_jpeg(), np.uint8), 1), [])
    assert inputs.expression is None and inputs.expression_grey is None


def test_packs_without_an_expression_network_leave_the_field_out(
    levi_hassner_pipeline, model_settings: Settings
) -> None:
    cydral = load_pipeline(model_settings, "cydral")
    for pipeline in (cydral, levi_hassner_pipeline):
        result = pipeline.analyze(astronaut_jpeg()).result
        jsonschema.validate(result, RESULT)
        [face] = result["faces"]
        assert "expression" not in face
        assert result["model"]["version"] == pipeline.pack.fingerprint
    # Today's default until issue 28, still selectable, still reads her as a woman.
    assert cydral.analyze(astronaut_jpeg()).result["faces"][0]["gender"]["label"] == "female"


def test_the_label_says_the_expression(pipeline) -> None:
    from tests.drawn import marks_of

    result = pipeline.analyze(astronaut_jpeg()).result
    [marks] = marks_of(result, (512, 512))
    assert marks.label is not None and marks.label.text.endswith(", happy")


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("gender,age", ("gender", "age")),
        (" age , GENDER ", ("gender", "age")),
        ("expression,age,gender", ("gender", "age", "expression")),
    ],
)
def test_attributes_setting_is_read_in_any_order(value: str, kept: tuple[str, ...]) -> None:
    assert parse_attributes(value) == kept


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("gender,age,emotion", "unknown emotion"),
        ("age,expression", "gender cannot be left out"),
        ("", "gender, age cannot be left out"),
    ],
)
def test_attributes_setting_refuses_what_it_cannot_do(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_attributes(value)


def test_attributes_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("READFACE_ATTRIBUTES", raising=False)
    assert get_settings().attributes == ("gender", "age", "expression")
    monkeypatch.setenv("READFACE_ATTRIBUTES", "gender,age")
    assert get_settings().attributes == ("gender", "age")
    assert Settings(model_dir=MODEL_DIR).attributes == ("gender", "age", "expression")
