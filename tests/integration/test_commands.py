"""`readface submit` against the running service, and `readface up` started and stopped whole,
its workers serving their metrics."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis
import requests

from cli.processes import free_port
from harness.images import astronaut_jpeg
from harness.paths import REPO
from harness.readface_up import (
    cleaned_up,
    processes_with_marker,
    serving_url,
    start_up,
    up_processes,
)
from harness.service import Api, poll, wait_ready
from shared.celery_app import ANALYZE_QUEUE

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


def test_up_serves_then_stops_everything_on_ctrl_c(tmp_path: Path) -> None:
    marker = f"READFACE_UP_TEST={uuid.uuid4().hex}"
    up, log = start_up(tmp_path, marker)
    with cleaned_up(up, marker, tmp_path):
        url = serving_url(up, log)
        # "serving on" comes once the whole stack is ready, not before.
        assert requests.get(f"{url}/readyz", timeout=5).status_code == 200
        analysed(url, quality=63)
        assert up_processes(marker, tmp_path)
        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=60) == 0, log.read_text()
        assert up_processes(marker, tmp_path) == []
        assert list((tmp_path / "data" / "redis").iterdir())  # append-only data on disk


def analysed(url: str, quality: int) -> str:
    """The id of a photo submitted to the service at `url`, once its analysis has succeeded."""
    submitted = requests.post(
        f"{url}/v1/analyses",
        data=astronaut_jpeg(quality=quality),
        headers={"Content-Type": "image/jpeg"},
        timeout=10,
    )
    assert submitted.status_code == 202, submitted.text
    analysis_id = str(submitted.json()["id"])
    done = requests.get(f"{url}/v1/analyses/{analysis_id}", params={"wait": 30}, timeout=40)
    assert done.json()["status"] == "succeeded", done.text
    return analysis_id


def test_up_killed_outright_leaves_nothing_running_and_its_data_to_one_up(tmp_path: Path) -> None:
    """SIGKILL (kill -9, the OOM killer) leaves `up` no time to stop its parts: they end by
    themselves, so the next `up` on the same data finds no Redis still writing to it; and while
    one runs, another on the same data is refused."""
    marker = f"READFACE_UP_TEST={uuid.uuid4().hex}"
    up, log = start_up(tmp_path, marker)
    with cleaned_up(up, marker, tmp_path):
        analysis_id = analysed(serving_url(up, log), quality=66)
        assert len(up_processes(marker, tmp_path)) > 1
        os.kill(up.pid, signal.SIGKILL)  # the process alone, not its group
        up.wait()
        poll(lambda: up_processes(marker, tmp_path) == [], 60, "up's processes to end")
    up, log = start_up(tmp_path, marker)
    with cleaned_up(up, marker, tmp_path):
        url = serving_url(up, log)
        kept = requests.get(f"{url}/v1/analyses/{analysis_id}", timeout=10)
        assert kept.json()["status"] == "succeeded", kept.text
        (tmp_path / "another").mkdir()
        marker_2 = f"READFACE_UP_TEST={uuid.uuid4().hex}"
        another, another_log = start_up(
            tmp_path / "another", marker_2, READFACE_DATA_DIR=str(tmp_path / "data")
        )
        with cleaned_up(another, marker_2, tmp_path / "another"):
            assert another.wait(timeout=60) == 1
        assert "another `readface up` is using" in another_log.read_text()
        assert requests.get(f"{url}/readyz", timeout=5).status_code == 200


def test_up_keeps_its_redis_private(tmp_path: Path) -> None:
    marker = f"READFACE_UP_TEST={uuid.uuid4().hex}"
    up, log = start_up(tmp_path, marker)
    with cleaned_up(up, marker, tmp_path):
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
    with cleaned_up(up, marker, tmp_path):
        assert up.wait(timeout=120) == 1
        output = log.read_text()
        assert "missing" in output and "worker exited before the service was ready" in output
        assert "serving on" not in output


def test_readface_up_serves_the_metrics_of_both_workers(tmp_path: Path) -> None:
    marker = f"READFACE_UP_TEST={uuid.uuid4().hex}"
    up, log = start_up(tmp_path, marker)
    with cleaned_up(up, marker, tmp_path):
        url = serving_url(up, log)
        urls = dict(re.findall(r"readface: (\w+) metrics on (\S+)", log.read_text()))
        assert urls.keys() == {"worker", "callbacks"}
        api = Api(url, up)
        wait_ready(api)
        api.wait_done(api.submit(astronaut_jpeg(quality=77)).json()["id"])
        # the worker counts the analysis once it has also deleted the upload, after the answer
        poll(
            lambda: (
                'readface_worker_analyses_total{outcome="succeeded"} 1.0'
                in requests.get(urls["worker"], timeout=10).text
            ),
            10,
            "the worker to count the analysis",
        )
        assert requests.get(urls["callbacks"], timeout=10).status_code == 200
        assert list((tmp_path / "data" / "metrics" / "worker").glob("*.db"))
        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=60) == 0, log.read_text()


def analysis_worker_pid(up: subprocess.Popen[bytes]) -> int | None:
    """The pid of the analysis worker `up` runs now (its child, not a pool process)."""
    for pid in processes_with_marker(f"READFACE_WORKER_QUEUES={ANALYZE_QUEUE}"):
        stat_line = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        if int(stat_line[1]) == up.pid:
            return pid
    return None


def test_up_starts_a_dead_worker_again_and_says_so(tmp_path: Path) -> None:
    marker = f"READFACE_UP_TEST={uuid.uuid4().hex}"
    up, log = start_up(tmp_path, marker)
    with cleaned_up(up, marker, tmp_path):
        url = serving_url(up, log)
        dead = analysis_worker_pid(up)
        assert dead is not None
        os.kill(dead, signal.SIGKILL)
        poll(lambda: "started the worker again" in log.read_text(), 60, "a new worker")
        assert "the worker exited with status -9" in log.read_text()
        assert analysis_worker_pid(up) not in (None, dead)
        ready = lambda: requests.get(f"{url}/readyz", timeout=5).status_code == 200  # noqa: E731
        poll(ready, 120, "the new worker to be ready", every=0.5)
        analysed(url, quality=64)
        assert up.poll() is None
