"""Does the service stay up and bounded under each attack of issues 19 and 25? About 1 min.

Bounded abuse suite: amplification, slow receiver, decoder bomb, method flood, DNS stall and the
HTTP front's bare-LF chunked bodies, pipelining and oversized trailers (bench/faults/abuse_http.py),
each bounded in count and time, against a local stack on 127.0.0.1 started as `readface up`
starts it (one analysis process; callbacks on their own threaded worker).

Per attack: answers by status, the worst Redis growth (INFO used_memory) and per accepted upload,
peak RSS of the API and analysis worker processes (/proc), worker time on the attack's jobs, the
time of an unrelated analysis submitted during the attack (submit -> succeeded) next to the same
with no attack, /healthz latency and /metrics growth. Exits 1 only when a functional bound fails
(the constants below), never on speed.

    python -m bench.faults.abuse        (make abuse)
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.common import save, table
from bench.faults.abuse_attacks import (
    CALLBACK_SETTINGS,
    SETTLE_SECONDS,
    Attack,
    amplification,
    decoder_bomb,
    dns_stall,
    method_flood,
    slow_receiver,
)
from bench.faults.abuse_http import bare_lf_chunked, oversized_trailers, pipelined
from bench.faults.observe import (
    Sampler,
    analysis_seconds,
    baseline_seconds,
    metrics_bytes,
    until_ended,
)
from bench.stack import Stack, local_stack
from harness.dns import can_fake_dns, silent_dns
from harness.images import astronaut_jpeg
from shared.settings import Settings
from shared.store import Store

MB = 1_000_000
# Functional bounds: any attack passing one of them makes the suite fail.
ANALYSIS_BOUND_SECONDS = 10.0  # an unrelated analysis (unless it queues behind the attack's jobs)
HEALTHZ_BOUND_SECONDS = 2.0
REDIS_BOUND_PER_UPLOAD = 25 * MB  # worst growth per accepted upload (or in all, if none)
METRICS_BOUND_BYTES = 100_000  # growth of /metrics


def _engage(attack: Attack, stack: Stack, pool: ThreadPoolExecutor) -> Any:
    """Start the attack and return its future once it is in full effect."""
    engaged = threading.Event()
    future = pool.submit(attack, stack, engaged)
    while not engaged.wait(0.1):
        if future.done():
            future.result()  # raises what stopped it
            break
    return future


def run_attack(
    stack: Stack, name: str, attack: Attack, image: bytes, bound: float | None
) -> tuple[dict[str, Any], list[str]]:
    """One attack with its measures; the row and the bounds it failed. `bound` is the time an
    unrelated analysis may take (None: it queues behind the attack's own jobs, and only has to
    end)."""
    store = Store(Settings(redis_url=stack.redis_url))
    memory_before = store.redis.info("memory")["used_memory"]
    executions_before = store.counters()["executions"]
    metrics_before = metrics_bytes(stack.url)
    with Sampler(stack) as sampler, ThreadPoolExecutor(1) as pool:
        future = _engage(attack, stack, pool)
        delay = analysis_seconds(stack.url, image, bound or SETTLE_SECONDS)
        outcome = future.result(timeout=SETTLE_SECONDS)
        jobs = until_ended(store, outcome.accepted_ids)
    growth = sampler.memory - memory_before
    accepted = outcome.answers[202]
    row = {
        "attack": name,
        "sent": outcome.sent,
        "answers": dict(sorted(outcome.answers.items())),
        "redis_peak_growth_bytes": growth,
        "redis_growth_per_accepted_bytes": growth / accepted if accepted else None,
        "peak_rss_bytes": sampler.rss,
        "worker_seconds": round(jobs.seconds, 2),
        "job_outcomes": jobs.outcomes,
        "executions": store.counters()["executions"] - executions_before,
        "unrelated_analysis_seconds": delay,
        "healthz_max_seconds": max(sampler.healthz, default=0.0),
        "healthz_failures": sampler.healthz_failures,
        "metrics_growth_bytes": metrics_bytes(stack.url) - metrics_before,
        **outcome.notes,
    }
    failures = [f"{name}: {failure}" for failure in outcome.failures]
    if delay is None:
        limit = f"{bound:g}" if bound else f"{SETTLE_SECONDS} (queued behind the attack)"
        failures.append(f"{name}: an unrelated analysis did not succeed within {limit} s")
    if jobs.pending:
        failures.append(
            f"{name}: {jobs.pending} accepted jobs had not ended after {SETTLE_SECONDS} s"
        )
    if row["healthz_max_seconds"] > HEALTHZ_BOUND_SECONDS or sampler.healthz_failures:
        failures.append(
            f"{name}: /healthz took up to {row['healthz_max_seconds']:.2f} s "
            f"({sampler.healthz_failures} not answered 200)"
        )
    if growth / max(1, accepted) > REDIS_BOUND_PER_UPLOAD:
        failures.append(f"{name}: Redis grew {growth / MB:.1f} MB for {accepted} accepted uploads")
    if row["metrics_growth_bytes"] > METRICS_BOUND_BYTES:
        failures.append(f"{name}: /metrics grew {row['metrics_growth_bytes']} bytes")
    return row, failures


def _cells(row: dict[str, Any]) -> list[object]:
    if "skipped" in row:
        return [row["attack"], "-", row["skipped"], *["-"] * 8]
    per_upload = row["redis_growth_per_accepted_bytes"]
    delay = row["unrelated_analysis_seconds"]
    return [
        row["attack"],
        row["sent"],
        " ".join(f"{status}:{count}" for status, count in row["answers"].items()),
        f"{row['redis_peak_growth_bytes'] / MB:.1f}",
        "-" if per_upload is None else f"{per_upload / MB:.2f}",
        f"{row['peak_rss_bytes']['API'] / MB:.0f}",
        f"{row['peak_rss_bytes']['worker'] / MB:.0f}",
        f"{row['worker_seconds']:.1f}",
        f"{'never' if delay is None else f'{delay:.2f}'} ({row['baseline_seconds']:.2f})",
        f"{row['healthz_max_seconds']:.3f}",
        f"{row['metrics_growth_bytes'] / 1000:.1f}",
    ]


HEADERS = [
    "attack",
    "sent",
    "answers",
    "Redis +MB",
    "MB/accepted",
    "API RSS MB",
    "worker RSS MB",
    "worker s",
    "analysis s (no attack)",
    "/healthz max s",
    "/metrics +KB",
]


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    images = (astronaut_jpeg(quality=q) for q in itertools.count(60))
    attacks = [  # payloads are built before the stack starts
        ("amplification", amplification(), None),
        ("slow receiver", slow_receiver(), ANALYSIS_BOUND_SECONDS),
        ("decoder bomb", decoder_bomb(), ANALYSIS_BOUND_SECONDS),
        ("method flood", method_flood(), ANALYSIS_BOUND_SECONDS),
        # issue 25: the HTTP front
        ("bare-LF chunked x32", bare_lf_chunked(), ANALYSIS_BOUND_SECONDS),
        ("pipelined", pipelined(), ANALYSIS_BOUND_SECONDS),
        ("oversized trailers", oversized_trailers(), ANALYSIS_BOUND_SECONDS),
    ]
    rows, failures = [], []
    started = time.perf_counter()
    with local_stack(workers=1, **CALLBACK_SETTINGS) as stack:
        baseline = baseline_seconds(stack, images)
        for name, attack, bound in attacks:
            row, failed = run_attack(stack, name, attack, next(images), bound)
            rows.append({**row, "baseline_seconds": baseline})
            failures += failed
    if can_fake_dns():
        # Its own stack: callbacks to private addresses are refused there (so names are looked
        # up at submit), and its API resolves names through a server that never answers.
        with (
            tempfile.TemporaryDirectory() as directory,
            silent_dns(Path(directory)) as (dns, resolv_conf),
            local_stack(workers=1, api_resolv_conf=resolv_conf) as stack,
        ):
            baseline = baseline_seconds(stack, images)
            row, failed = run_attack(
                stack, "DNS stall", dns_stall(dns), next(images), ANALYSIS_BOUND_SECONDS
            )
            rows.append({**row, "baseline_seconds": baseline})
            failures += failed
    else:
        rows.append({"attack": "DNS stall", "skipped": "skipped: needs root and unshare"})
    print(
        table(
            HEADERS,
            [_cells(row) for row in rows],
            "Abuse suite (issue 19): 1 analysis process, peaks during each attack",
        )
    )
    print(f"\n{time.perf_counter() - started:.0f} s in all")
    for failure in failures:
        print(f"FAILED {failure}")
    bounds = {
        "unrelated_analysis_seconds": ANALYSIS_BOUND_SECONDS,
        "healthz_seconds": HEALTHZ_BOUND_SECONDS,
        "redis_growth_per_accepted_bytes": REDIS_BOUND_PER_UPLOAD,
        "metrics_growth_bytes": METRICS_BOUND_BYTES,
    }
    save("abuse", {"bounds": bounds, "attacks": rows, "failures": failures})
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
