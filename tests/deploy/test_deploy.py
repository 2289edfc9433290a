"""The images and compose files, proven as far as a machine without a Docker engine can
(Kubernetes: test_kubernetes.py)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cli.processes import SCRIPTS, free_port
from harness.paths import MODEL_DIR, REPO
from harness.service import start_worker_expecting_refusal
from shared.manifest import load_pack
from tests.deploy.checks import assert_names_the_sentinels, assert_shell_parses

DOCKERFILES = ["Dockerfile.worker", "Dockerfile.api"]
SENTINEL_COMPOSE = REPO / "deploy" / "compose" / "docker-compose.sentinel.yml"


def final_stage(dockerfile: str) -> list[str]:
    """The instructions of the last stage (the image that ships), continuation lines joined."""
    text = (REPO / dockerfile).read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]
    last_from = max(i for i, line in enumerate(lines) if line.upper().startswith("FROM "))
    return lines[last_from:]


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_hadolint_passes(dockerfile: str) -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    run = subprocess.run([str(hadolint), dockerfile], cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_image_runs_as_non_root_with_a_healthcheck_and_no_volume(dockerfile: str) -> None:
    stage = final_stage(dockerfile)
    users = [line.split()[1] for line in stage if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert any(line.startswith("HEALTHCHECK ") for line in stage)
    assert not any(
        line.startswith("VOLUME") for line in (REPO / dockerfile).read_text().splitlines()
    )


def test_worker_image_bakes_the_verified_models_read_only() -> None:
    text = (REPO / "Dockerfile.worker").read_text()
    assert "RUN scripts/build-models.sh" in text
    stage = " ".join(final_stage("Dockerfile.worker"))
    assert "COPY --from=models /out /root/" in stage
    # modes set where the files are written: a chmod in the final stage copies the layer again
    assert "chmod 0444 /out/models/* && chmod 0555 /out/models" in text
    assert "chmod" not in stage.replace("chmod 0711 /root", "")
    assert "READFACE_MODEL_DIR=/root/models" in stage
    assert "build-essential" not in text and "gcc" not in text


def test_api_image_has_no_opencv_or_numpy() -> None:
    text = " ".join(
        line
        for line in (REPO / "Dockerfile.api").read_text().splitlines()
        if not line.startswith("#")
    )
    assert "[worker]" not in text and "opencv" not in text and "numpy" not in text
    assert "COPY worker ./worker" not in text


def test_images_and_ci_start_services_with_the_same_scripts() -> None:
    assert 'CMD ["scripts/worker-entrypoint.sh"]' in (REPO / "Dockerfile.worker").read_text()
    assert 'CMD ["scripts/api-entrypoint.sh"]' in (REPO / "Dockerfile.api").read_text()
    launcher = (REPO / "cli" / "processes.py").read_text()
    assert '"worker-entrypoint.sh"' in launcher and '"api-entrypoint.sh"' in launcher
    assert "scripts/build-models.sh" in (REPO / "Makefile").read_text()
    for script in ("worker-entrypoint.sh", "api-entrypoint.sh", "build-models.sh"):
        assert os.access(SCRIPTS / script, os.X_OK)


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="make test installs it")
def test_compose_file_validates() -> None:
    run = subprocess.run(
        ["docker-compose", "-f", "docker-compose.yml", "config", "-q"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr


BLOBS_VOLUME = "blobs:/var/lib/readface/blobs"


def test_compose_scales_workers_persists_redis_and_shares_the_blobs() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    worker = services["worker"]
    assert "container_name" not in worker and "ports" not in worker  # --scale worker=N works
    # the API and the analysis workers share one volume for the blobs; nothing over the models
    assert worker["volumes"] == services["api"]["volumes"] == [BLOBS_VOLUME]
    assert "volumes" not in services["callbacks"]
    assert "file:///var/lib/readface/blobs" in worker["environment"]["READFACE_BLOB_URL"]
    assert worker["depends_on"]["redis"]["condition"] == "service_healthy"
    assert services["api"]["depends_on"]["redis"]["condition"] == "service_healthy"
    redis_command = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in redis_command and "--maxmemory-policy noeviction" in redis_command
    assert services["redis"]["volumes"] == ["redis-data:/data"]
    assert services["flower"]["profiles"] == ["monitoring"]


def test_env_example_lists_every_compose_setting() -> None:
    compose = (REPO / "docker-compose.yml").read_text()
    used = set(re.findall(r"\$\{(READFACE_[A-Z_]+)", compose))
    example = {
        line.split("=")[0]
        for line in (REPO / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert used <= example


@pytest.mark.parametrize("problem", ["missing", "altered"])
def test_worker_start_up_refuses_a_broken_model_dir(tmp_path: Path, problem: str) -> None:
    for spec in load_pack("default").files:
        shutil.copyfile(MODEL_DIR / spec.name, tmp_path / spec.name)
    victim = tmp_path / "age_gender_model.onnx"
    if problem == "missing":
        victim.unlink()
    else:
        data = bytearray(victim.read_bytes())
        data[-1] ^= 0x01
        victim.write_bytes(bytes(data))
    run = start_worker_expecting_refusal(READFACE_MODEL_DIR=str(tmp_path))
    assert run.returncode != 0
    assert f"age_gender_model.onnx: {problem}" in run.stderr


def test_worker_start_up_refuses_an_unknown_log_format() -> None:
    run = start_worker_expecting_refusal(READFACE_LOG_FORMAT="yaml")
    assert run.returncode != 0
    assert "READFACE_LOG_FORMAT must be one of json, text." in run.stderr


def test_a_worker_serving_metrics_without_a_directory_refuses_to_start() -> None:
    run = start_worker_expecting_refusal(
        READFACE_WORKER_METRICS_BIND=f"127.0.0.1:{free_port()}", PROMETHEUS_MULTIPROC_DIR=""
    )
    assert run.returncode != 0
    assert "PROMETHEUS_MULTIPROC_DIR" in run.stderr


def test_importing_the_worker_reads_no_setting() -> None:
    """Settings are read as the worker starts (its app's configuration, worker_init), so a
    module that imports the tasks, a tool or a test, neither needs nor freezes the environment."""
    probe = (
        "import worker.tasks as tasks; "
        "print('imported', tasks.settings.cache_info().currsize, flush=True); "
        "tasks.app.conf.broker_url"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "READFACE_TASK_HARD_TIME_LIMIT": "soon"}
    run = subprocess.run(
        [sys.executable, "-c", probe], env=env, cwd=REPO, capture_output=True, text=True
    )
    # the import succeeded without reading them; the first read of the configuration fails
    assert run.stdout == "imported 0\n", run.stderr
    assert "could not convert string to float: 'soon'" in run.stderr, run.stderr


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="make test installs it")
def test_sentinel_compose_variant_validates() -> None:
    run = subprocess.run(
        ["docker-compose", "-f", "docker-compose.yml", "-f", str(SENTINEL_COMPOSE), "config", "-q"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr


def test_sentinel_compose_variant_puts_every_client_behind_three_sentinels() -> None:
    text = SENTINEL_COMPOSE.read_text()
    services = yaml.safe_load(text)["services"]
    sentinels = {name for name in services if name.startswith("sentinel-")}
    assert len(sentinels) == 3
    for client in ("api", "worker", "callbacks"):
        env = services[client]["environment"]
        assert_names_the_sentinels(env["READFACE_REDIS_URL"], sentinels, "readface")
        assert env["READFACE_REDIS_ACK_REPLICAS"] == "1"
        assert set(services[client]["depends_on"]) == sentinels
    # `$$` is compose's escape for the container's `$`
    for sentinel in sentinels:
        [script] = services[sentinel]["command"]
        assert "sentinel monitor readface redis 6379 2" in script  # a quorum of 2 of 3
        assert_shell_parses(script.replace("$$", "$"))
    for node in ("redis", "redis-replica"):
        [script] = services[node]["command"]
        assert "--appendonly yes" in script and "--maxmemory-policy noeviction" in script
        assert_shell_parses(script.replace("$$", "$"))
    assert services["redis-replica"]["volumes"] == ["redis-replica-data:/data"]
    example = (REPO / ".env.example").read_text()
    assert all(f"{name}=" in example for name in re.findall(r"\$\{(READFACE_[A-Z_]+)", text))
