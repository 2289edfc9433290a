"""A throwaway local service (redis-server, Celery workers, API) for benchmarks."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import IO

import requests

from bench.common import REPO, RESULTS
from shared.launcher import free_port, start_api, start_redis, start_worker, stop

# Where the services that benchmarks start write their output, so it does not clutter the tables.
LOG = RESULTS / "stack.log"


def open_log() -> IO[bytes]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    return LOG.open("ab")


@dataclass(frozen=True)
class Stack:
    url: str
    redis_url: str


def _wait(check, what: str, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _status(url: str) -> int:
    try:
        return requests.get(url, timeout=5).status_code
    except requests.ConnectionError:
        return 0


@contextmanager
def local_stack(workers: int, **settings: str) -> Iterator[Stack]:
    """Redis on a free port (no persistence), `workers` worker processes and the API; their
    output goes to LOG."""
    with ExitStack() as cleanup:
        log = cleanup.enter_context(open_log())
        redis_port, api_port = free_port(), free_port()
        redis_process = start_redis(redis_port, None)
        cleanup.callback(stop, redis_process)
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        env = {
            **os.environ,
            "READFACE_REDIS_URL": redis_url,
            "PYTHONPATH": str(REPO),
            "READFACE_MODEL_DIR": str(REPO / "models"),
            "READFACE_LOG_LEVEL": "WARNING",
            "READFACE_RATE_LIMIT_PER_MINUTE": "1000000",
            **settings,
        }
        worker = start_worker(env, workers, name=f"bench{api_port}", log=log)
        cleanup.callback(stop, worker)
        api = start_api(env, "127.0.0.1", api_port, log=log)
        cleanup.callback(stop, api)
        url = f"http://127.0.0.1:{api_port}"
        _wait(lambda: _status(url + "/readyz") == 200, "the service to be ready")
        yield Stack(url, redis_url)
