"""The built images as they ship: what the Dockerfiles promise, checked inside the images."""

from __future__ import annotations

import re

import pytest

from harness.paths import REPO
from tests.containers.stack import API_IMAGE, WORKER_IMAGE, docker

MODELS = "/root/models"


def run_in(image: str, *command: str) -> str:
    return docker(
        "run", "--rm", "--network", "none", "--entrypoint", command[0], image, *command[1:]
    )


def test_worker_models_are_root_owned_read_only_in_a_directory_nobody_writes() -> None:
    listing = run_in(WORKER_IMAGE, "stat", "-c", "%a %u %n", MODELS)
    assert listing == f"555 0 {MODELS}"
    files = run_in(
        WORKER_IMAGE, "find", MODELS, "-type", "f", "-printf", "%m %U %f\\n"
    ).splitlines()
    assert files and all(line.startswith("444 0 ") for line in files), files


def test_worker_cannot_write_beside_its_models() -> None:
    run = docker(
        "run",
        "--rm",
        "--network",
        "none",
        "--entrypoint",
        "sh",
        WORKER_IMAGE,
        "-c",
        f"touch {MODELS}/x 2>/dev/null && echo wrote || echo refused",
    )
    assert run == "refused"


@pytest.mark.parametrize("image", [API_IMAGE, WORKER_IMAGE])
def test_image_runs_as_uid_10001_without_a_volume(image: str) -> None:
    config = docker("image", "inspect", "-f", "{{.Config.User}} {{json .Config.Volumes}}", image)
    assert config == "10001 null"
    assert run_in(image, "id", "-u") == "10001"


@pytest.mark.parametrize("image", [API_IMAGE, WORKER_IMAGE])
def test_every_installed_package_is_pinned(image: str) -> None:
    pins = {
        line.split("==")[0].lower().replace("_", "-"): line.split("==")[1].split(";")[0].strip()
        for line in (REPO / "requirements.lock").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    frozen = run_in(image, "python", "-m", "pip", "freeze", "--exclude-editable").splitlines()
    unpinned = []
    for line in frozen:
        name, version = line.split("==")
        if pins.get(re.sub(r"[_.]", "-", name.lower())) != version:
            unpinned.append(line)
    assert not unpinned


def test_worker_image_has_no_gpu_or_npu_plugin() -> None:
    found = run_in(WORKER_IMAGE, "find", "/venv", "-name", "libopenvino_intel_*_plugin.so")
    assert [p.rsplit("/", 1)[1] for p in found.split()] == ["libopenvino_intel_cpu_plugin.so"]


def test_worker_image_has_no_node_but_the_default_packs_npm_models() -> None:
    # npm fetched the face-api tarball in the build stage; only the verified files came along.
    found = run_in(WORKER_IMAGE, "sh", "-c", "command -v node npm nodejs || echo none")
    assert found == "none"
    files = run_in(WORKER_IMAGE, "ls", MODELS).split()
    assert {"age_gender_model.onnx", "face_expression_model.onnx", "emotion_model.onnx"} <= set(
        files
    )
