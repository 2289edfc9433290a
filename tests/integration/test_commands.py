"""`readface submit` against the running service, and `readface up` started and stopped whole."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests

from shared.launcher import free_port
from tests.conftest import MODEL_DIR, REPO
from tests.images import astronaut_jpeg
from tests.service import Api, poll

pytestmark = pytest.mark.integration


def readface(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shared.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
    )


def test_submit_waits_prints_the_resource_and_saves_the_image(api: Api, tmp_path: Path) -> None:
    image = tmp_path / "astronaut.jpg"
    image.write_bytes(astronaut_jpeg(quality=61))
    out = tmp_path / "annotated.jpg"
    run = readface("submit", str(image), "--server", api.url, "--wait", "--out", str(out))
    assert run.returncode == 0, run.stderr
    resource = json.loads(run.stdout)
    assert resource["status"] == "succeeded" and len(resource["result"]["faces"]) == 1
    assert out.read_bytes()[:3] == b"\xff\xd8\xff"


def test_submit_of_a_non_image_fails_with_a_message(api: Api, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a photo\n")
    run = readface("submit", str(text), "--server", api.url)
    assert run.returncode == 1
    assert "notes.txt" in run.stderr and "Traceback" not in run.stderr


def test_submit_to_a_dead_server_fails_with_a_message(tmp_path: Path) -> None:
    image = tmp_path / "astronaut.jpg"
    image.write_bytes(astronaut_jpeg(quality=62))
    run = readface("submit", str(image), "--server", f"http://127.0.0.1:{free_port()}")
    assert run.returncode == 1
    assert "cannot reach" in run.stderr and "Traceback" not in run.stderr


def processes_with_marker(marker: str) -> list[int]:
    """Pids of live processes whose environment carries the marker (all that `up` started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in environ and state != "Z":
            found.append(int(entry.name))
    return found


def test_up_serves_then_stops_everything_on_ctrl_c(tmp_path: Path) -> None:
    marker = f"READFACE_UP_TEST={uuid.uuid4().hex}"
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "READFACE_REDIS_URL"}
    env.update(
        {
            "READFACE_MODEL_DIR": str(MODEL_DIR),
            "PYTHONPATH": str(REPO),
            marker.split("=")[0]: marker.split("=")[1],
        }
    )
    log = tmp_path / "up.log"  # a file, not a pipe: nobody would drain a pipe while we poll
    with log.open("wb") as sink:
        up = subprocess.Popen(
            [sys.executable, "-m", "shared.cli", "up", "--port", str(port), "--workers", "1"],
            cwd=tmp_path,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            assert up.poll() is None, log.read_text()
            try:
                return requests.get(f"{url}/readyz", timeout=5).status_code == 200
            except requests.ConnectionError:
                return False

        poll(ready, 90, "readface up to be ready", every=0.2)
        submitted = requests.post(
            f"{url}/v1/analyses",
            data=astronaut_jpeg(quality=63),
            headers={"Content-Type": "image/jpeg"},
            timeout=10,
        )
        assert submitted.status_code == 202
        done = requests.get(
            f"{url}/v1/analyses/{submitted.json()['id']}", params={"wait": 30}, timeout=40
        )
        assert done.json()["status"] == "succeeded"
        assert processes_with_marker(marker)
        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=60) == 0, log.read_text()
        assert processes_with_marker(marker) == []
        assert list((tmp_path / "var" / "redis").iterdir())  # append-only data on disk
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
            up.wait()
        for pid in processes_with_marker(marker):  # only if the test failed half-way
            os.kill(pid, signal.SIGKILL)
