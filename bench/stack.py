"""A throwaway local service (redis-server, Celery workers, API) for benchmarks."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import requests
from celery.app.control import Control

from bench.common import REPO, RESULTS
from cli.processes import free_port, start_api, start_redis, start_worker, stop
from harness.dns import start_api_with_resolv_conf
from shared.celery_app import (
    ANALYZE_QUEUE,
    CALLBACK_QUEUE,
    CALLBACK_WORKER_POOL,
    CALLBACK_WORKER_THREADS,
    create_celery_app,
)
from shared.settings import Settings

# Where the services that benchmarks start write their output, so it does not clutter the tables.
LOG = RESULTS / "stack.log"


def open_log() -> IO[bytes]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    return LOG.open("ab")


@dataclass(frozen=True)
class Stack:
    url: str
    redis_url: str
    # "API", "worker" (analyses), "callbacks worker": the leader of each process group
    processes: Mapping[str, subprocess.Popen[bytes]]
    # the file:// blob store of the stack's uploads and annotated images, removed with it
    blob_dir: Path
    redis_pid: int


def _wait(check, what: str, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _status(url: str) -> int:
    try:
        return requests.get(url, timeout=5).status_code
    except (requests.ConnectionError, requests.Timeout):  # a first answer may be slow to come
        return 0


def _workers_answering(control: Control, names: set[str]) -> bool:
    """Whether every named Celery worker answers a control ping."""
    answered = {node.split("@")[0] for reply in control.ping(timeout=0.5) for node in reply}
    return names <= answered


@contextmanager
def local_stack(
    workers: int, api_resolv_conf: Path | None = None, **settings: str
) -> Iterator[Stack]:
    """Redis on a free port (no persistence), a blob directory of its own, the workers as
    `readface up` starts them (`workers` analysis processes, and callbacks on threads) and the
    API, with `api_resolv_conf` as its /etc/resolv.conf if given (harness/dns.py); their output
    goes to LOG."""
    with ExitStack() as cleanup:
        log = cleanup.enter_context(open_log())
        redis_port, api_port = free_port(), free_port()
        redis_process = start_redis(redis_port, None)
        cleanup.callback(stop, redis_process)
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        blob_dir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="bench-blobs-")))
        env = {
            **os.environ,
            "READFACE_REDIS_URL": redis_url,
            "PYTHONPATH": str(REPO),
            "READFACE_MODEL_DIR": str(REPO / "models"),
            "READFACE_LOG_LEVEL": "WARNING",
            "READFACE_RATE_LIMIT_PER_MINUTE": "1000000",
            "READFACE_BLOB_URL": blob_dir.as_uri(),
            **settings,
        }
        names = {"worker": f"bench{api_port}", "callbacks worker": f"bench{api_port}-callbacks"}
        processes = {
            "worker": start_worker(
                env, workers, name=names["worker"], queues=ANALYZE_QUEUE, log=log
            ),
            "callbacks worker": start_worker(
                env,
                CALLBACK_WORKER_THREADS,
                name=names["callbacks worker"],
                queues=CALLBACK_QUEUE,
                pool=CALLBACK_WORKER_POOL,
                log=log,
            ),
        }
        for process in processes.values():
            cleanup.callback(stop, process)
        if api_resolv_conf is None:
            processes["API"] = start_api(env, "127.0.0.1", api_port, log=log)
        else:
            processes["API"] = start_api_with_resolv_conf(api_resolv_conf, env, api_port, log)
        cleanup.callback(stop, processes["API"])  # stopped first: callbacks run in reverse
        url = f"http://127.0.0.1:{api_port}"
        _wait(lambda: _status(url + "/readyz") == 200, "the service to be ready")
        # /readyz is satisfied by either worker: wait for both, the analyses' one above all
        control = create_celery_app(Settings(redis_url=redis_url)).control
        _wait(lambda: _workers_answering(control, set(names.values())), "both workers")
        yield Stack(url, redis_url, processes, blob_dir, redis_process.pid)
