"""`readface up`: Redis (embedded unless READFACE_REDIS_URL is set), Celery workers and the API
on one machine, each a real process in its own process group; Ctrl-C stops them all."""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import signal
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import redis

from cli.processes import (
    free_port,
    redis_url,
    start_api,
    start_redis,
    start_worker,
    stop,
    wait_for_redis,
)
from cli.supervise import GaveUp, Supervisor, wait_until_ready
from shared.celery_app import (
    ANALYZE_QUEUE,
    CALLBACK_QUEUE,
    CALLBACK_WORKER_POOL,
    CALLBACK_WORKER_THREADS,
)
from shared.settings import Settings, get_settings
from worker.metrics import MULTIPROC_DIR_VARIABLE, metrics_address

# The embedded Redis holds jobs and results (the bytes are in the blob store); past this, writes
# fail (the API answers 503) rather than evicting anything that was accepted.
EMBEDDED_REDIS_MAXMEMORY = "1gb"
# A deleted analysis's result stays in the append-only file until it is rewritten: at most this
# long.
AOF_REWRITE_SECONDS = 600


def run_up(host: str, port: int, workers: int | None) -> int:
    """Run everything until SIGINT/SIGTERM, starting again a part that dies (cli/supervise.py);
    returns the exit status (1 when a part keeps dying, or never gets ready)."""
    settings = get_settings()
    embedded_redis = "READFACE_REDIS_URL" not in os.environ
    lock = lock_data(settings.data_dir) if embedded_redis else None
    if embedded_redis and lock is None:
        return 1
    env = dict(os.environ)
    parts = Supervisor(reap=stop)
    stopping = False

    def _stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        embedded: redis.Redis | None = None
        if embedded_redis:
            redis_port, password = free_port(), secrets.token_urlsafe(24)
            data_dir = settings.data_dir / "redis"
            parts.start(
                "Redis",
                lambda: start_redis(
                    redis_port, data_dir, password, EMBEDDED_REDIS_MAXMEMORY, holding=lock
                ),
            )
            env["READFACE_REDIS_URL"] = redis_url(redis_port, password)
            embedded = redis.Redis.from_url(env["READFACE_REDIS_URL"])
            print(
                f"readface: embedded Redis on 127.0.0.1:{redis_port} (password-protected, "
                f"at most {EMBEDDED_REDIS_MAXMEMORY}, data in {data_dir})"
            )
        else:
            wait_for_redis(settings.redis_url)
        print(f"readface: uploads and annotated images in {settings.blob_url}")
        analysis_env, callbacks_env = worker_metrics_envs(env, settings, host)
        concurrency = workers or os.cpu_count() or 1
        parts.start("worker", lambda: start_worker(analysis_env, concurrency, queues=ANALYZE_QUEUE))
        parts.start(
            "callbacks worker",
            lambda: start_worker(
                callbacks_env,
                CALLBACK_WORKER_THREADS,
                name="readface-callbacks",
                queues=CALLBACK_QUEUE,
                pool=CALLBACK_WORKER_POOL,
            ),
        )
        parts.start("API", lambda: start_api(env, host, port))
        ready_url = f"http://{reachable(host)}:{port}/readyz"
        if not wait_until_ready(parts, ready_url, lambda: stopping):
            return 0 if stopping else 1
        print(f"readface: serving on http://{host}:{port}/  (Ctrl-C stops everything)", flush=True)
        next_rewrite = time.monotonic() + AOF_REWRITE_SECONDS
        while not stopping:
            try:
                parts.check()
            except GaveUp:
                return 1
            if embedded is not None and time.monotonic() >= next_rewrite:
                # Compacts the append-only file, so deleted photos leave the disk too.
                with contextlib.suppress(redis.RedisError):  # Redis being started again
                    embedded.bgrewriteaof()
                next_rewrite += AOF_REWRITE_SECONDS
            time.sleep(0.2)
        return 0
    finally:
        for _, process in reversed(list(parts.processes())):  # API first, Redis last
            stop(process)
        print("readface: stopped")


def lock_data(data_dir: Path) -> int | None:
    """A file descriptor holding an exclusive lock on the data directory, which each embedded
    Redis inherits: two Redis servers writing one append-only file would corrupt it, so a second
    `readface up` there is refused, also while the Redis of a killed one is still stopping. None,
    said on stderr, when another holds it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / "up.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        print(
            f"readface: another `readface up` is using {data_dir}; stop it first, or give this "
            "one a data directory of its own (READFACE_DATA_DIR)",
            file=sys.stderr,
        )
        return None
    return fd


def worker_metrics_envs(
    env: Mapping[str, str], settings: Settings, host: str
) -> tuple[dict[str, str], dict[str, str]]:
    """The environments of the analysis worker and the callbacks worker: each serves its
    processes' metrics (worker/metrics.py) from a directory of its own in the data dir, on
    READFACE_WORKER_METRICS_BIND and the next port for the callbacks worker, else on free
    ports of the API's host; the API's environment gets neither."""
    if settings.worker_metrics_bind:
        bind_host, first = metrics_address(settings.worker_metrics_bind)
        ports = [first, first + 1]
    else:
        bind_host, ports = host, [free_port(), free_port()]
    envs = []
    for name, port in zip(("worker", "callbacks"), ports, strict=True):
        bind = f"{bind_host}:{port}"
        envs.append(
            {
                **env,
                "READFACE_WORKER_METRICS_BIND": bind,
                MULTIPROC_DIR_VARIABLE: str(settings.data_dir / "metrics" / name),
            }
        )
        print(f"readface: {name} metrics on http://{reachable(bind_host)}:{port}/metrics")
    return envs[0], envs[1]


def reachable(host: str) -> str:
    """Where to reach a server bound to `host` from this machine (any-address: loopback)."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
