"""What the abuse suites watch while an attack runs: Redis memory, each process group's RSS and
/healthz's latency, sampled; an unrelated analysis's time; and what the worker did with the
attack's jobs."""

from __future__ import annotations

import http.client
import statistics
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import redis
import requests

from bench.faults.abuse_attacks import SETTLE_SECONDS
from bench.faults.load import call
from bench.stack import Stack
from harness.service import child_pids
from shared.store import Store

SAMPLE_SECONDS = 0.25


def _rss(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    line = next((line for line in status.splitlines() if line.startswith("VmRSS:")), "0 0")
    return int(line.split()[1]) * 1024


class Sampler:
    """Until stopped, samples Redis used_memory and the largest RSS in each of the stack's
    process groups (peaks kept), and times /healthz on a fresh connection each time."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.redis = redis.Redis.from_url(stack.redis_url)
        self.memory = 0
        self.rss = dict.fromkeys(stack.processes, 0)
        self.healthz: list[float] = []
        self.healthz_failures = 0
        self.stopped = threading.Event()
        self.threads = [threading.Thread(target=self._memory), threading.Thread(target=self._probe)]

    def __enter__(self) -> Sampler:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join()

    def _memory(self) -> None:
        while True:
            self.memory = max(self.memory, self.redis.info("memory")["used_memory"])
            for name, leader in self.stack.processes.items():
                largest = max(_rss(pid) for pid in [leader.pid, *child_pids(leader.pid)])
                self.rss[name] = max(self.rss[name], largest)
            if self.stopped.wait(SAMPLE_SECONDS):
                return

    def _probe(self) -> None:
        parts = urllib.parse.urlsplit(self.stack.url)
        while True:
            started = time.perf_counter()
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
            try:
                connection.request("GET", "/healthz")
                ok = connection.getresponse().status == 200
            except (OSError, http.client.HTTPException):
                ok = False
            finally:
                connection.close()
            self.healthz.append(time.perf_counter() - started)
            self.healthz_failures += not ok
            if self.stopped.wait(SAMPLE_SECONDS):
                return


def analysis_seconds(url: str, image: bytes, timeout: float) -> float | None:
    """Submit -> succeeded of one fresh image; None if it did not succeed within timeout."""
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    status, body = call(url, "POST", "/v1/analyses", image)
    if status != 202:
        return None
    while body["status"] in ("queued", "running"):
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        body = call(url, "GET", f"/v1/analyses/{body['id']}?wait={min(left, 30):.2f}")[1]
    return time.perf_counter() - started if body["status"] == "succeeded" else None


@dataclass(frozen=True)
class JobsSeen:
    """What the worker did with an attack's accepted jobs, from their job hashes."""

    seconds: float  # started -> finished, summed
    pending: int  # not ended yet
    outcomes: dict[str, int]  # "succeeded", or "failed: <error code>"


def jobs_seen(store: Store, ids: list[str]) -> JobsSeen:
    seconds, pending, outcomes = 0.0, 0, Counter[str]()
    for analysis_id in ids:
        fields = ("status", "error_code", "started_at", "finished_at")
        raw = store.redis.hmget(store.key("job", analysis_id), list(fields))
        status, error, started, finished = (v.decode() if v else "" for v in raw)
        if not finished:
            pending += 1
            continue
        outcomes[f"{status}: {error}" if error else status] += 1
        if started:
            spent = datetime.fromisoformat(finished) - datetime.fromisoformat(started)
            seconds += spent.total_seconds()
    return JobsSeen(seconds, pending, dict(outcomes))


def until_ended(store: Store, ids: list[str]) -> JobsSeen:
    """jobs_seen once every job has ended, or after SETTLE_SECONDS."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while (seen := jobs_seen(store, ids)).pending and time.monotonic() < deadline:
        time.sleep(SAMPLE_SECONDS)
    return seen


def metrics_bytes(url: str) -> int:
    return len(requests.get(url + "/metrics", timeout=10).content)


def baseline_seconds(stack: Stack, images: Iterator[bytes], runs: int = 3) -> float:
    """An analysis with no attack: the median of `runs` fresh images, one at a time."""
    times = [analysis_seconds(stack.url, next(images), SETTLE_SECONDS) for _ in range(runs)]
    if None in times:
        raise RuntimeError("an analysis with no attack did not succeed")
    return statistics.median(t for t in times if t is not None)
