"""`readface submit` against the running service, and `readface up` started and stopped whole."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
import requests

from cli.up import free_port
from tests.conftest import REPO
from tests.images import astronaut_jpeg
from tests.service import Api, poll

pytestmark = pytest.mark.integration


def readface(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
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


READFACE = str(Path(sys.executable).with_name("readface"))  # the console script users run


def start_up(folder: Path, marker: str, **settings: str) -> tuple[subprocess.Popen[bytes], Path]:
    """`readface up` started in a folder outside the checkout, as a user would, with no
    READFACE_MODEL_DIR: the model files must be found all the same."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("READFACE_REDIS_URL", "READFACE_MODEL_DIR")
    }
    env.update({"READFACE_DATA_DIR": str(folder / "data"), **settings})
    env.update([marker.split("=")])
    log = folder / "up.log"  # a file, not a pipe: nobody would drain a pipe while we poll
    with log.open("wb") as sink:
        up = subprocess.Popen(
            [READFACE, "up", "--port", str(free_port()), "--workers", "1"],
            cwd=folder,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return up, log


@contextmanager
def cleaned_up(up: subprocess.Popen[bytes], marker: str) -> Iterator[None]:
    try:
        yield
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
            up.wait()
        for pid in processes_with_marker(marker):  # only if the test failed half-way
            os.kill(pid, signal.SIGKILL)


def test_up_serves_then_stops_everything_on_ctrl_c(tmp_path: Path) -> None:
    marker = f"READFACE_UP_TEST={uuid.uuid4().hex}"
    up, log = start_up(tmp_path, marker)
    with cleaned_up(up, marker):
        serving = poll(
            lambda: re.search(r"serving on (\S+)", log.read_text()) or up.poll() is not None,
            120,
            "readface up to say it is serving",
            every=0.2,
        )
        assert up.poll() is None, log.read_text()
        url = serving.group(1).rstrip("/")  # type: ignore[union-attr]
        # "serving on" comes once the whole stack is ready, not before.
        assert requests.get(f"{url}/readyz", timeout=5).status_code == 200
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
        assert list((tmp_path / "data" / "redis").iterdir())  # append-only data on disk


def test_up_keeps_its_redis_private(tmp_path: Path) -> None:
    marker = f"READFACE_UP_TEST={uuid.uuid4().hex}"
    up, log = start_up(tmp_path, marker)
    with cleaned_up(up, marker):
        found = poll(
            lambda: re.search(r"embedded Redis on 127.0.0.1:(\d+)", log.read_text()),
            60,
            "readface up to start its Redis",
        )
        port = int(found.group(1))  # type: ignore[union-attr]
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=port).set("intruder", "x")
        data = tmp_path / "data" / "redis"
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        files = [p for p in data.rglob("*") if p.is_file()]
        assert files and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)
        assert "password" in log.read_text() and "requirepass" not in log.read_text()


def test_up_says_the_worker_refused_and_never_that_it_serves(tmp_path: Path) -> None:
    marker = f"READFACE_UP_TEST={uuid.uuid4().hex}"
    (tmp_path / "empty").mkdir()
    up, log = start_up(tmp_path, marker, READFACE_MODEL_DIR=str(tmp_path / "empty"))
    with cleaned_up(up, marker):
        assert up.wait(timeout=120) == 1
        output = log.read_text()
        assert "missing" in output and "worker exited before the service was ready" in output
        assert "serving on" not in output
