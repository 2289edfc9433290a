"""`readface analyze` and `readface models verify` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from harness.images import astronaut_jpeg
from harness.paths import MODEL_DIR, REPO
from tests.schemas import component_schema

pytestmark = pytest.mark.integration  # runs the command in a process of its own

RESULT = component_schema("Result")


def readface(*args: str, model_dir: Path = MODEL_DIR) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "READFACE_MODEL_DIR": str(model_dir)}
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )


def test_analyze_prints_json_lines_and_writes_annotations(tmp_path: Path) -> None:
    good = tmp_path / "astronaut.jpg"
    good.write_bytes(astronaut_jpeg())
    also = tmp_path / "again.jpg"
    also.write_bytes(astronaut_jpeg(quality=80))
    out = tmp_path / "out"
    run = readface("analyze", str(good), str(also), "--out", str(out))
    assert run.returncode == 0, run.stderr
    records = [json.loads(line) for line in run.stdout.splitlines()]
    assert [r["path"] for r in records] == [str(good), str(also)]
    for record in records:
        jsonschema.validate(record, RESULT)
        assert len(record["id"]) == 64 and len(record["faces"]) == 1
    assert (out / "astronaut.annotated.jpg").read_bytes()[:3] == b"\xff\xd8\xff"
    assert (out / "again.annotated.jpg").exists()


def test_analyze_reports_bad_files_and_still_does_the_rest(tmp_path: Path) -> None:
    text = tmp_path / "notes.jpg"
    text.write_text("just words\n")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    good = tmp_path / "good.jpg"
    good.write_bytes(astronaut_jpeg())
    run = readface(
        "analyze",
        str(text),
        str(empty),
        str(tmp_path / "missing.jpg"),
        str(good),
        "--pack",
        "levi-hassner",
    )
    assert run.returncode == 1
    assert len(run.stdout.splitlines()) == 1 and json.loads(run.stdout)["path"] == str(good)
    assert "notes.jpg: The file is not a JPEG, PNG, WebP, BMP or HEIF image." in run.stderr
    assert "empty.png: The file is empty." in run.stderr
    assert "missing.jpg" in run.stderr
    assert "Traceback" not in run.stderr


def test_models_verify_names_the_altered_file(tmp_path: Path) -> None:
    assert readface("models", "verify").returncode == 0
    run = readface("models", "verify", "--pack", "levi-hassner", model_dir=tmp_path)
    assert run.returncode == 1
    for name in ("age_net.caffemodel", "gender_net.caffemodel", "deploy_age.prototxt"):
        assert f"{name}: missing" in run.stderr


def test_analyze_refuses_to_run_on_a_broken_pack(tmp_path: Path) -> None:
    image = tmp_path / "a.jpg"
    image.write_bytes(astronaut_jpeg())
    run = readface("analyze", str(image), model_dir=tmp_path)
    assert run.returncode == 1
    assert "res10_300x300_ssd_iter_140000.caffemodel: missing" in run.stderr


def test_analyze_finds_the_models_from_any_directory(tmp_path: Path) -> None:
    """The installed command, started outside the checkout with no READFACE_MODEL_DIR."""
    photo = tmp_path / "astronaut.jpg"
    photo.write_bytes(astronaut_jpeg())
    env = {k: v for k, v in os.environ.items() if k != "READFACE_MODEL_DIR"}
    run = subprocess.run(
        [str(Path(sys.executable).with_name("readface")), "analyze", photo.name],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert len(json.loads(run.stdout)["faces"]) == 1
