"""Image bombs (issue 26) sent over real HTTP as a client sends them, and the memory ceiling in a
real prefork worker: its analysis process runs under a hard data limit that keeps its RSS under
READFACE_WORKER_MEMORY_MB, and a decode that needs more than is left fails that job as
invalid_image while the same process goes on serving."""

from __future__ import annotations

import resource
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from harness import bombs
from harness.images import astronaut_jpeg
from harness.service import (
    Api,
    assert_error,
    child_pids,
    poll,
    running_api,
    running_redis,
    running_worker,
    service_env,
    wait_ready,
)
from shared.celery_app import ANALYZE_QUEUE
from worker.decode import OVER_MEMORY
from worker.memory_limit import MB, status_bytes

pytestmark = pytest.mark.integration

CEILING_MB = 600


def _data_limit(pid: int) -> tuple[int, int] | None:
    """The process's RLIMIT_DATA (soft, hard) once set, None while unlimited."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max data size"):
            soft, hard = line.split()[3:5]
            return None if soft == "unlimited" else (int(soft), int(hard))
    raise AssertionError("no data limit line")


@pytest.fixture(scope="module")
def worker_pool() -> Iterator[tuple[Api, int, int]]:
    """The API, the worker's main process and its one analysis process, the limit armed."""
    with running_redis() as server:
        env = service_env(
            server.url,
            READFACE_RATE_LIMIT_PER_MINUTE="100000",
            READFACE_WORKER_MEMORY_MB=str(CEILING_MB),
        )
        with running_worker(env, 1, queues=ANALYZE_QUEUE) as worker, running_api(env) as api:
            wait_ready(api)
            pid = poll(lambda: child_pids(worker.pid), 60, "the analysis process")[0]  # type: ignore[index]
            poll(lambda: _data_limit(pid), 60, "the data limit")
            yield api, worker.pid, pid


def test_the_analysis_process_may_grow_only_to_the_ceiling(worker_pool) -> None:
    _, _, pid = worker_pool
    soft, hard = _data_limit(pid)  # type: ignore[misc]
    assert soft == hard  # hard: the process cannot raise it again
    room = soft - status_bytes("VmData", pid)  # what it may still map
    assert abs(status_bytes("VmRSS", pid) + room - CEILING_MB * MB) < 16 * MB


REFUSED_AT_SUBMIT = {
    "png chunk length lie": (bombs.png_length_lie, "image/png", "declares"),
    "png text bomb": (bombs.png_text_bomb, "image/png", "metadata chunks"),
    "heif grid past its ispe": (bombs.heif_grid, "image/heic", "is not its ispe"),
    "jpeg arithmetic progressive": (
        bombs.arithmetic_progressive_cmyk,
        "image/jpeg",
        "coefficients",
    ),
    "jpeg scan per component": (
        lambda: bombs.separate_scans_jpeg(8064, 6048),
        "image/jpeg",
        "coefficients",
    ),
}


@pytest.mark.parametrize("name", REFUSED_AT_SUBMIT)
def test_image_bombs_of_the_issue_are_refused_at_submit(worker_pool, name: str) -> None:
    api, _, _ = worker_pool
    build, content_type, reason = REFUSED_AT_SUBMIT[name]
    response = api.post("/v1/analyses", data=build(), headers={"Content-Type": content_type})
    assert_error(response, 422, "invalid_image")
    assert reason in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("build", "content_type"),
    [(lambda: bombs.apng(side=96, frames=2), "image/png"),
     (lambda: bombs.animated_webp(side=96, frames=2), "image/webp")],
)  # fmt: skip
def test_animations_are_analysed_as_their_first_frame(worker_pool, build, content_type) -> None:
    api, _, _ = worker_pool
    response = api.post("/v1/analyses", data=build(), headers={"Content-Type": content_type})
    assert response.status_code == 202, response.text
    done = api.wait_done(response.json()["id"])
    assert done["status"] == "succeeded"
    assert (done["result"]["image"]["width"], done["result"]["image"]["height"]) == (96, 96)


# Last in the module: it leaves the analysis process little room.
def test_a_decode_past_the_ceiling_fails_its_job_and_the_process_serves_on(worker_pool) -> None:
    api, leader, pid = worker_pool
    warm = api.submit(astronaut_jpeg(quality=71)).json()["id"]
    assert api.wait_done(warm)["status"] == "succeeded"
    # Leave the process 24 MB: the 16 MP PNG (the format's cap) needs 48 MB for its pixels alone.
    room = status_bytes("VmData", pid) + 24 * MB
    resource.prlimit(pid, resource.RLIMIT_DATA, (room, room))
    png = cv2.imencode(".png", np.full((4000, 4000, 3), 90, np.uint8))[1].tobytes()
    failed = api.wait_done(api.submit(png).json()["id"])
    assert failed["status"] == "failed"
    assert failed["error"] == {"code": "invalid_image", "message": OVER_MEMORY}
    after = api.wait_done(api.submit(astronaut_jpeg(quality=72)).json()["id"])
    assert after["status"] == "succeeded" and len(after["result"]["faces"]) == 1
    assert child_pids(leader) == [pid]
