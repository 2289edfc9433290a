"""Real service processes for tests: a throwaway redis-server, Celery workers, the API."""

from __future__ import annotations

import atexit
import functools
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis
import requests

from cli.processes import SCRIPTS, free_port, start_api, start_redis, start_worker, stop
from harness.paths import MODEL_DIR, REPO
from shared.blobs import open_blob_store
from shared.blobs.analyses import AnalysisBlobs
from shared.celery_app import (
    ANALYZE_QUEUE,
    CALLBACK_QUEUE,
    CALLBACK_UNACKED_KEYS,
    CALLBACK_WORKER_POOL,
    CALLBACK_WORKER_THREADS,
)
from shared.settings import Settings
from shared.store import Store

WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
# The upload token of a job a test claims in the store directly, whose blob nobody wrote: for
# jobs no worker is sent.
UNWRITTEN = "0" * 16


def poll(check: Callable[[], object], timeout: float, what: str, every: float = 0.05) -> object:
    """Call check until it returns something truthy; fail after timeout (no blind sleeps)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


def poll_until_count(count: Callable[[], int], target: int, stall: float, what: str) -> None:
    """Wait until count() reaches target, failing only when it stops rising for `stall` seconds:
    a loaded machine may be slow, but a stuck one makes no progress."""
    last, since = count(), time.monotonic()
    while last < target:
        time.sleep(0.2)
        now = count()
        if now > last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since > stall:
            raise AssertionError(f"{what}: stuck at {last} of {target} for {stall}s")


def start_worker_expecting_refusal(**overrides: str) -> subprocess.CompletedProcess[str]:
    """Run the worker's start-up script (as the image and `readface up` do) where it should
    refuse to start; the checks come before any broker connection."""
    env = {
        **os.environ,
        "READFACE_MODEL_DIR": str(MODEL_DIR),
        "PYTHONPATH": str(REPO),
        "READFACE_REDIS_URL": "redis://127.0.0.1:9/0",
        "PYTHON": sys.executable,
        "READFACE_WORKER_CONCURRENCY": "1",
        **overrides,
    }
    return subprocess.run(
        ["bash", str(SCRIPTS / "worker-entrypoint.sh")],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


@functools.cache
def _blob_root() -> Path:
    """This test run's blob directories, removed when it ends."""
    root = Path(tempfile.mkdtemp(prefix="readface-test-blobs-"))
    atexit.register(shutil.rmtree, root, True)
    return root


def blob_dir_for(redis_url: str) -> Path:
    """The blob directory of the services on one Redis (a file:// store, as by default)."""
    return _blob_root() / hashlib.sha256(redis_url.encode()).hexdigest()[:16]


def service_env(redis_url: str, **overrides: str) -> dict[str, str]:
    env = {
        **os.environ,
        "READFACE_REDIS_URL": redis_url,
        "READFACE_BLOB_URL": blob_dir_for(redis_url).as_uri(),
        "READFACE_MODEL_DIR": str(MODEL_DIR),
        "READFACE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "PYTHONPATH": str(REPO),
    }
    env.update(overrides)
    return env


def paused_at(stage: str, seconds: float, run: int | None = None) -> dict[str, str]:
    """The environment of a worker that sleeps `seconds` when an analysis reaches `stage` (in
    the job's run number `run` only, if given; worker/fault_injection.py): a time limit strikes
    at a known point, not by a race."""
    spec = f"{stage}:{seconds:g}" + (f":{run}" if run is not None else "")
    return {"READFACE_TEST_FAULTS": "1", "READFACE_TEST_PAUSE": spec}


def held_at(stage: str, path: Path) -> dict[str, str]:
    """The environment of a worker that holds each analysis at `stage` for as long as the file
    `path` exists (worker/fault_injection.py): the test decides when it goes on."""
    return {"READFACE_TEST_FAULTS": "1", "READFACE_TEST_HOLD": f"{stage}:{path}"}


@dataclass
class Api:
    url: str
    process: subprocess.Popen[bytes]
    session: requests.Session = field(default_factory=requests.Session)

    def get(self, path: str, **kwargs: object) -> requests.Response:
        return self.session.get(self.url + path, timeout=40, **kwargs)  # type: ignore[arg-type]

    def post(self, path: str, **kwargs: object) -> requests.Response:
        return self.session.post(self.url + path, timeout=40, **kwargs)  # type: ignore[arg-type]

    def delete(self, path: str, **kwargs: object) -> requests.Response:
        return self.session.delete(self.url + path, timeout=40, **kwargs)  # type: ignore[arg-type]

    def submit(self, data: bytes, **params: str) -> requests.Response:
        return self.post(
            "/v1/analyses", data=data, params=params, headers={"Content-Type": "image/jpeg"}
        )

    def wait_done(self, analysis_id: str, timeout: float = 60) -> dict:
        def done() -> dict | None:
            body = self.get(f"/v1/analyses/{analysis_id}", params={"wait": 5}).json()
            return body if body["status"] in ("succeeded", "failed") else None

        return poll(done, timeout, f"analysis {analysis_id} to end")  # type: ignore[return-value]


class RedisServer:
    """A throwaway redis-server on a free port that a test can stop and start again; with
    maxmemory, writes past it fail (noeviction), as in production."""

    def __init__(self, data_dir: Path | None = None, maxmemory: str | None = None) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.maxmemory = maxmemory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = start_redis(self.port, self.data_dir, maxmemory=self.maxmemory)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None


@contextmanager
def running_redis(
    data_dir: Path | None = None, maxmemory: str | None = None
) -> Iterator[RedisServer]:
    server = RedisServer(data_dir, maxmemory)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def running_api(env: dict[str, str]) -> Iterator[Api]:
    port = free_port()
    process = start_api(env, "127.0.0.1", port)
    api = Api(f"http://127.0.0.1:{port}", process)
    try:
        poll(lambda: _answers(api), 30, "the API to answer /healthz")
        yield api
    finally:
        stop(process)


@contextmanager
def running_worker(
    env: dict[str, str],
    concurrency: int = 1,
    queues: str = f"{ANALYZE_QUEUE},{CALLBACK_QUEUE}",
    pool: str = "prefork",
) -> Iterator[subprocess.Popen[bytes]]:
    process = start_worker(env, concurrency, name=f"test{free_port()}", queues=queues, pool=pool)
    try:
        yield process
    finally:
        stop(process)


@contextmanager
def running_split_workers(env: dict[str, str]) -> Iterator[None]:
    """One analysis process and a threaded callbacks worker, as `readface up` starts them."""
    with (
        running_worker(env, 1, queues=ANALYZE_QUEUE),
        running_worker(
            env, CALLBACK_WORKER_THREADS, queues=CALLBACK_QUEUE, pool=CALLBACK_WORKER_POOL
        ),
    ):
        yield


def deliveries_settled(redis_url: str) -> bool:
    """No callback waiting in the queue and none held by a worker (retries wait unacked)."""
    client = redis.Redis.from_url(redis_url)
    unacked = CALLBACK_UNACKED_KEYS["unacked_key"]
    return client.llen(CALLBACK_QUEUE) == 0 and client.hlen(unacked) == 0


def assert_error(response: requests.Response, status: int, code: str) -> None:
    """The contract's error: this status, a JSON body, this code and a message."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code and error["message"]


def wait_ready(api: Api, timeout: float = 60) -> None:
    poll(lambda: api.get("/readyz").status_code == 200, timeout, "a worker to be ready", every=0.2)


def _answers(api: Api) -> bool:
    if api.process.poll() is not None:
        raise AssertionError(f"the API exited with {api.process.returncode}")
    try:
        return api.get("/healthz").status_code == 200
    except requests.ConnectionError:
        return False


def store_for(redis_url: str) -> Store:
    return Store(Settings(redis_url=redis_url, blob_url=blob_dir_for(redis_url).as_uri()))


def analyses_for(redis_url: str, tenant: str = "") -> AnalysisBlobs:
    """A tenant's analyses as the services on this Redis see them (store and blob store)."""
    store = store_for(redis_url)
    return AnalysisBlobs(store.for_tenant(tenant), open_blob_store(store.settings))


def assert_all_end_once(api: Api, ids: list[str], redis_url: str) -> None:
    """Every job succeeds, its annotated image is served, and each ended exactly once: on this
    test's own Redis the succeeded counter, bumped only by the step that ends a pending job,
    equals the number of jobs (a job ended twice would count twice)."""
    store = store_for(redis_url)
    for analysis_id in ids:
        done = api.wait_done(analysis_id, timeout=120)
        assert done["status"] == "succeeded", done
        assert api.get(f"/v1/analyses/{analysis_id}/annotated").status_code == 200
    assert store.counters()["succeeded"] == len(ids)


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


def submit_all(api: Api, payloads: Iterable[bytes], **params: str) -> list[str]:
    ids = []
    for data in payloads:
        response = api.submit(data, **params)
        assert response.status_code == 202, response.text
        ids.append(response.json()["id"])
    return ids
