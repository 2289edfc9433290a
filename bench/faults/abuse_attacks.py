"""The attacks of `bench.faults.abuse` (issue 19), each bounded in count and time and aimed only at
a local stack on 127.0.0.1. Each is built with its payloads ready, runs in a thread, sets `engaged`
once it is in full effect (the harness then times an unrelated analysis) and returns what it
sent, what came back and which jobs it got accepted."""

from __future__ import annotations

import math
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.faults.load import call
from bench.stack import Stack
from harness.dns import SilentDns
from harness.images import astronaut_jpeg, encode, scan_bomb
from harness.receivers import DRIP_SECONDS, DrippingReceiver
from shared.callbacks.addresses import DNS_MAX_LOOKUPS
from shared.celery_app import CALLBACK_WORKER_THREADS
from shared.imageinfo import FORMAT_MAX_PIXELS
from shared.jpeg_markers import MAX_SCANS

# Callback settings of the stack the slow receiver runs against: short, so the suite is too.
CALLBACK_TIMEOUT_SECONDS = 2.0
CALLBACK_ATTEMPTS = 3
CALLBACK_SETTINGS = {
    "READFACE_CALLBACK_ALLOW_PRIVATE": "1",  # the receiver is on 127.0.0.1
    "READFACE_CALLBACK_TIMEOUT": str(CALLBACK_TIMEOUT_SECONDS),
    "READFACE_CALLBACK_BACKOFF": "0.1",
    "READFACE_CALLBACK_MAX_ATTEMPTS": str(CALLBACK_ATTEMPTS),
}
SETTLE_SECONDS = 120  # the longest an attack may take to play out


@dataclass
class Outcome:
    sent: int = 0
    answers: Counter[int] = field(default_factory=Counter)
    accepted_ids: list[str] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def submit(self, stack: Stack, image: bytes, callback_url: str | None = None) -> int:
        """POST one upload; counts it and its answer, keeps the id if a job was queued."""
        query = f"?callback_url={urllib.parse.quote(callback_url, safe='')}" if callback_url else ""
        status, body = call(stack.url, "POST", "/v1/analyses" + query, image)
        self.sent += 1
        self.answers[status] += 1
        if status == 202:
            self.accepted_ids.append(body["id"])
        return status


Attack = Callable[[Stack, threading.Event], Outcome]


def _until(check: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def _ended(stack: Stack, analysis_id: str) -> bool:
    _, body = call(stack.url, "GET", f"/v1/analyses/{analysis_id}?wait=5")
    return body["status"] in ("succeeded", "failed")


def _tiled_noise(side: int, seed: int) -> np.ndarray:
    """An 8x8 noise tile repeated to side x side: compresses to almost nothing, decodes to
    the full size (issue 19's 27 KB WebP)."""
    tile = np.random.default_rng(seed).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    reps = side // 8 + 1
    return np.ascontiguousarray(np.tile(tile, (reps, reps, 1))[:side, :side])


def amplification(copies: int = 5, raw_uploads: int = 20, raw_bytes: int = 10_000_000) -> Attack:
    """The costliest images still accepted (lossless WebP and PNG of tiled noise at their pixel
    caps) `copies` times each, then `raw_uploads` incompressible PNGs of about `raw_bytes`
    sent while the worker is busy with them (the per-client queued-bytes quota answers 429)."""
    webp_side = math.isqrt(FORMAT_MAX_PIXELS["webp"])
    png_side = math.isqrt(FORMAT_MAX_PIXELS["png"])
    costly = [
        encode(_tiled_noise(webp_side, seed), "WEBP", lossless=True, method=0, quality=0)
        for seed in range(copies)
    ] + [
        encode(_tiled_noise(png_side, copies + seed), "PNG", compress_level=1)
        for seed in range(copies)
    ]
    side = math.isqrt(raw_bytes // 3)
    rng = np.random.default_rng(99)
    raw = [
        encode(rng.integers(0, 256, (side, side, 3), dtype=np.uint8), "PNG", compress_level=0)
        for _ in range(raw_uploads)
    ]

    def run(stack: Stack, engaged: threading.Event) -> Outcome:
        outcome = Outcome()
        for image in costly:
            outcome.submit(stack, image)
        burst = Outcome()
        for image in raw:
            burst.submit(stack, image)
        engaged.set()
        outcome.sent += burst.sent
        outcome.answers += burst.answers
        outcome.accepted_ids += burst.accepted_ids
        outcome.notes = {
            "costly_image_bytes": [len(image) for image in costly],
            "raw_upload_bytes": len(raw[0]),
            "raw_answers": dict(burst.answers),
        }
        return outcome

    return run


def slow_receiver(distinct: int = 4, deliveries: int = 20) -> Attack:
    """Callbacks to a receiver that answers one byte every DRIP_SECONDS: `distinct` analyses,
    then dedup hits of the same bytes (each delivers its callback at once, costing no analysis)
    up to `deliveries` deliveries, each cut at the attempt deadline and retried."""
    images = [astronaut_jpeg(quality=50 + n) for n in range(distinct)]

    def run(stack: Stack, engaged: threading.Event) -> Outcome:
        outcome = Outcome()
        receiver = DrippingReceiver()
        try:
            for image in images:
                outcome.submit(stack, image, receiver.url)
            ids = outcome.accepted_ids
            _until(lambda: all(_ended(stack, i) for i in ids), 60, "the analyses to end")
            for n in range(deliveries - distinct):
                outcome.submit(stack, images[n % distinct], receiver.url)
            # every callback thread holds a dripping delivery
            busy = min(CALLBACK_WORKER_THREADS, deliveries)
            _until(lambda: receiver.open >= busy, 30, "the deliveries to drip")
            engaged.set()
            attempts = deliveries * CALLBACK_ATTEMPTS
            _until(lambda: len(receiver.held) >= attempts, SETTLE_SECONDS, "every attempt")
        finally:
            receiver.close()
        longest = max(receiver.held)
        outcome.notes = {
            "deliveries": deliveries,
            "attempts": len(receiver.held),
            "longest_attempt_s": round(longest, 2),
            "callback_thread_s": round(sum(receiver.held), 1),
        }
        if longest > CALLBACK_TIMEOUT_SECONDS + 2 * DRIP_SECONDS:
            outcome.failures.append(f"a delivery attempt lasted {longest:.1f} s")
        return outcome

    return run


def decoder_bomb(copies: int = 5) -> Attack:
    """A progressive JPEG with 20,000 scans `copies` times (refused at submit), then one with
    the most scans the header check lets through, its frame claiming 4000x4000 (accepted at
    submit: what it costs the worker to refuse it)."""
    bomb, edge = scan_bomb(20_000), scan_bomb(MAX_SCANS, side=4000)

    def run(stack: Stack, engaged: threading.Event) -> Outcome:
        outcome = Outcome()
        for _ in range(copies):
            if outcome.submit(stack, bomb) != 422:
                outcome.failures.append("a JPEG with 20,000 scans was accepted")
        outcome.submit(stack, edge)
        engaged.set()
        outcome.notes = {"bomb_bytes": len(bomb), "edge_scans": MAX_SCANS}
        return outcome

    return run


def _method_name(number: int) -> str:
    """A made-up HTTP method: uppercase letters only, so gunicorn passes it on to the app."""
    letters = ""
    while True:
        number, digit = divmod(number, 26)
        letters += chr(ord("A") + digit)
        if not number:
            return "XQ" + letters


def method_flood(requests: int = 5000, connections: int = 4) -> Attack:
    """`requests` requests, each with a different made-up method, on keep-alive connections."""

    def run(stack: Stack, engaged: threading.Event) -> Outcome:
        outcome = Outcome()
        lock = threading.Lock()

        def send(numbers: range) -> None:
            for number in numbers:
                status, _ = call(stack.url, _method_name(number), "/v1/analyses")
                with lock:
                    outcome.sent += 1
                    outcome.answers[status] += 1
                    if outcome.sent == requests // 10:
                        engaged.set()

        with ThreadPoolExecutor(connections) as pool:
            share = math.ceil(requests / connections)
            for future in [
                pool.submit(send, range(start, min(requests, start + share)))
                for start in range(0, requests, share)
            ]:
                future.result()
        return outcome

    return run


def dns_stall(dns: SilentDns, submissions: int = 40) -> Attack:
    """`submissions` at once whose callback hosts' DNS never answers (the API runs behind
    `dns`); the time box and the cap on lookups answer 422 and 503."""
    images = [astronaut_jpeg(quality=10 + n) for n in range(submissions)]

    def run(stack: Stack, engaged: threading.Event) -> Outcome:
        outcome = Outcome()
        lock = threading.Lock()

        def submit(number: int) -> None:
            url = f"http://hang{number}.readface.test/hook"
            status, _ = call(stack.url, "POST", "/v1/analyses?callback_url=" + url, images[number])
            with lock:
                outcome.sent += 1
                outcome.answers[status] += 1

        with ThreadPoolExecutor(submissions) as pool:
            futures = [pool.submit(submit, n) for n in range(submissions)]
            _until(lambda: len(dns.names) >= DNS_MAX_LOOKUPS, 10, "the lookups to reach the DNS")
            engaged.set()
            for future in futures:
                future.result()
        outcome.notes = {"names_asked": len(dns.names)}
        if set(outcome.answers) - {422, 503}:
            outcome.failures.append(f"answers other than 422 and 503: {dict(outcome.answers)}")
        return outcome

    return run
