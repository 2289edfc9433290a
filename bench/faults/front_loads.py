"""The loads of `bench.faults.front` (issue 25): long-polls with slow uploads, 32 concurrent
20 MiB uploads, and the API CPU of JPEG headers made to be slow to walk; and the probes the
attacks share."""

from __future__ import annotations

import hashlib
import socket
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import requests

from bench.common import cpu_seconds
from bench.faults.observe import rss
from bench.stack import Stack
from harness.bombs import empty_app_segments_jpeg, fill_byte_jpeg
from harness.images import astronaut_jpeg
from harness.service import UNWRITTEN, child_pids
from shared.settings import Settings
from shared.store import Store

MB = 1_000_000
PROBE_TIMEOUT = 70.0  # past the old body deadline (60 s), so a hold shows as its length


def address(stack: Stack) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(stack.url)
    assert parts.hostname and parts.port
    return parts.hostname, parts.port


def connect(stack: Stack, timeout: float = PROBE_TIMEOUT) -> socket.socket:
    return socket.create_connection(address(stack), timeout=timeout)


def timed(call: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    try:
        value: object = call()
    except (OSError, requests.RequestException) as error:
        value = type(error).__name__
    return time.perf_counter() - started, value


def healthz(stack: Stack) -> tuple[float, object]:
    return timed(lambda: requests.get(stack.url + "/healthz", timeout=PROBE_TIMEOUT).status_code)


def never_ending_job(stack: Stack) -> str:
    """A job claimed in the store but never sent to a worker: it stays queued."""
    store = Store(Settings(redis_url=stack.redis_url))
    analysis_id = hashlib.sha256(str(time.time()).encode()).hexdigest()
    store.claim(analysis_id, 3, "never-runs", None, upload=UNWRITTEN)
    return analysis_id


def long_polls(stack: Stack, polls: int, slow_uploads: int) -> dict[str, object]:
    analysis_id = never_ending_job(stack)
    body = astronaut_jpeg(quality=66)
    upload_head = (
        f"POST /v1/analyses HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    waiting = []
    for _ in range(polls):
        sock = connect(stack, 40)
        sock.sendall(f"GET /v1/analyses/{analysis_id}?wait=30 HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        waiting.append(sock)
    for _ in range(slow_uploads):
        sock = connect(stack, 40)
        sock.sendall(upload_head + body[:100])  # the rest never comes while measured
        waiting.append(sock)
    settle(stack)
    health_seconds, health = healthz(stack)
    upload_seconds, upload = timed(
        lambda: (
            requests.post(
                stack.url + "/v1/analyses",
                data=astronaut_jpeg(quality=int(time.time()) % 30 + 40),
                headers={"Content-Type": "image/jpeg"},
                timeout=PROBE_TIMEOUT,
            ).status_code
        )
    )
    for sock in waiting:
        sock.close()
    return {
        "/healthz s": health_seconds,
        "/healthz": health,
        "upload s": upload_seconds,
        "upload": upload,
    }


def settle(stack: Stack, idle_cpu: float = 0.02, every: float = 0.5) -> None:
    """Until the API has taken in every request sent (its CPU use over `every` seconds falls
    under `idle_cpu` seconds): what then costs it nothing is what waits."""
    leader = stack.processes["API"].pid
    spent = sum(cpu_seconds(pid) for pid in [leader, *child_pids(leader)])
    while True:
        time.sleep(every)
        now = sum(cpu_seconds(pid) for pid in [leader, *child_pids(leader)])
        if now - spent < idle_cpu:
            return
        spent = now


def api_rss(stack: Stack) -> int:
    leader = stack.processes["API"].pid
    return max(rss(pid) for pid in [leader, *child_pids(leader)])


def big_uploads(stack: Stack, uploads: int = 32, size: int = 20 * 1024 * 1024) -> dict[str, object]:
    before = api_rss(stack)
    peak = before
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.wait(0.05):
            peak = max(peak, api_rss(stack))

    sampler = threading.Thread(target=sample)
    sampler.start()
    payload = b"\xff\xd8" + b"\x00" * (size - 2)  # a JPEG signature and nothing else: refused
    with ThreadPoolExecutor(uploads) as pool:
        statuses = list(
            pool.map(
                lambda _: (
                    requests.post(
                        stack.url + "/v1/analyses",
                        data=payload,
                        headers={"Content-Type": "image/jpeg"},
                        timeout=120,
                    ).status_code
                ),
                range(uploads),
            )
        )
    stop.set()
    sampler.join()
    time.sleep(2.0)  # memory given back settles
    return {
        "answers": dict(Counter(map(str, statuses))),
        "API RSS before MB": before / MB,
        "peak MB": peak / MB,
        "after MB": api_rss(stack) / MB,
    }


def jpeg_walk_cpu(stack: Stack) -> dict[str, object]:
    """API CPU seconds (user + system, from /proc) for one upload of each slow-to-walk JPEG."""
    leader = stack.processes["API"].pid
    row: dict[str, object] = {}
    for name, data in (
        ("20 MiB fill bytes", fill_byte_jpeg(20 * 1024 * 1024)),
        ("5 M empty APP segments", empty_app_segments_jpeg(5_000_000)),
    ):
        before = sum(cpu_seconds(pid) for pid in [leader, *child_pids(leader)])
        status = requests.post(
            stack.url + "/v1/analyses",
            data=data,
            headers={"Content-Type": "image/jpeg"},
            timeout=60,
        ).status_code
        spent = sum(cpu_seconds(pid) for pid in [leader, *child_pids(leader)]) - before
        row[name] = f"{status}, {spent * 1000:.0f} ms CPU"
    return row
