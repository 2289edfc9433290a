"""READFACE_ATTRIBUTES=gender,age over real HTTP: a deployment that must not infer emotions gets
faces without the expression field, from workers that never loaded an expression network, and
the CLI honours the same setting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from harness.images import astronaut_jpeg
from harness.paths import REPO
from harness.service import Api, running_api, running_redis, running_worker, service_env, wait_ready
from shared.manifest import load_pack
from tests.schemas import component_schema

pytestmark = pytest.mark.integration

WITHOUT_EXPRESSION = {"READFACE_ATTRIBUTES": "gender,age"}


@pytest.fixture(scope="module")
def api_without_expression() -> Iterator[Api]:
    with running_redis() as redis:
        env = service_env(redis.url, **WITHOUT_EXPRESSION)
        with running_worker(env), running_api(env) as api:
            wait_ready(api)
            yield api


def test_results_leave_the_expression_out(api_without_expression: Api) -> None:
    response = api_without_expression.submit(astronaut_jpeg(quality=83))
    assert response.status_code == 202
    done = api_without_expression.wait_done(response.json()["id"])
    jsonschema.validate(done, component_schema("Analysis"))
    [face] = done["result"]["faces"]
    assert set(face) == {"box", "score", "gender", "age"}
    model = done["result"]["model"]
    pack = load_pack("default")
    assert model["pack"] == "default"
    assert model["version"] == pack.version(("gender", "age")) != pack.fingerprint


def test_analyze_with_and_without_the_expression(tmp_path: Path) -> None:
    photo = tmp_path / "astronaut.jpg"
    photo.write_bytes(astronaut_jpeg())
    faces = {}
    for name, extra in (("all", {}), ("gender,age", WITHOUT_EXPRESSION)):
        env = {k: v for k, v in os.environ.items() if k != "READFACE_ATTRIBUTES"} | extra
        run = subprocess.run(
            [sys.executable, "-m", "cli", "analyze", str(photo)],
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr
        [faces[name]] = json.loads(run.stdout)["faces"]
    assert faces["all"]["expression"]["label"] == "happy"
    assert "expression" not in faces["gender,age"]
    assert faces["all"]["age"] == faces["gender,age"]["age"]


def test_an_unknown_attribute_is_named(tmp_path: Path) -> None:
    photo = tmp_path / "astronaut.jpg"
    photo.write_bytes(astronaut_jpeg())
    env = {**os.environ, "READFACE_ATTRIBUTES": "gender,age,mood"}
    run = subprocess.run(
        [sys.executable, "-m", "cli", "analyze", str(photo)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )
    assert run.returncode == 2
    assert run.stderr.strip() == (
        "readface: READFACE_ATTRIBUTES: unknown mood; known: gender, age, expression"
    )
