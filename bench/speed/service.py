"""What does the service (API, Redis, Celery) add to the pipeline's time? About 3 min.

One photo through the whole service (API + Redis + Celery) against the in-process pipeline,
and the response time of a dedup hit.

    python -m bench.speed.service [--runs 40]
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import cv2
import numpy as np
from skimage import data

from bench.common import median, percentile, save, table
from bench.faults import load
from bench.speed import pools
from bench.stack import local_stack
from shared.settings import get_settings
from worker.pipeline import load_pipeline


def photos(count: int) -> list[bytes]:
    """Distinct JPEGs of one portrait (a different quality each), so none is a dedup hit."""
    bgr = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    return [
        cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 50 + i % 50])[1].tobytes()
        + bytes([i // 50])
        for i in range(count)
    ]


def service_latencies(url: str, images: list[bytes]) -> tuple[list[float], list[float]]:
    """Submit→succeeded for each image (long-poll), then dedup-hit response times."""
    full = []
    for image in images:
        started = time.perf_counter()
        load.one_submission(url, image)
        full.append((time.perf_counter() - started) * 1000)
    hits = []
    for image in images:
        started = time.perf_counter()
        status, _ = load.call(url, "POST", "/v1/analyses", image)
        hits.append((time.perf_counter() - started) * 1000)
        assert status == 200
    return full, hits


def service_rate(url: str, images: list[bytes]) -> float:
    """Images per second through the whole service, 8 in flight; the results are deleted after,
    so the next round analyses the same images again."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(lambda image: load.one_submission(url, image), images))
    rate = len(outcomes) / (time.perf_counter() - started)
    assert all(o["status"] == "succeeded" for o in outcomes)
    for outcome in outcomes:
        assert load.call(url, "DELETE", f"/v1/analyses/{outcome['id']}")[0] == 204
    return rate


def throughput_table(count: int, rounds: int) -> dict[str, Any]:
    """In-process and service throughput with 2 processes, in alternating rounds on the same warm
    processes, so that a slower spell of this shared machine hits both about equally."""
    images = load.distinct_images(count)
    rows = []
    with pools.pipeline_pool(2) as pool, local_stack(workers=2) as stack:
        load.one_submission(stack.url, images[0])  # warm both sides
        for number in range(1, rounds + 1):
            in_process = pools.pool_throughput(pool, images[1:], 2)
            service = service_rate(stack.url, images[1:])
            rows.append([number, in_process, service, f"{service / in_process:.0%}"])
    ratio = median([row[2] / row[1] for row in rows])
    print(
        table(
            ["round", "in-process img/s", "service img/s", "service / in-process"],
            rows,
            f"Throughput with 2 processes on 2 cores, {count - 1} distinct portraits per round",
        )
    )
    print(f"\nservice / in-process (median of rounds): {ratio:.0%}")
    return {"rounds": rows, "ratio": ratio}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--throughput-images", type=int, default=201)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    images = photos(args.runs)
    cv2.setNumThreads(1)
    pipeline = load_pipeline(get_settings())
    in_process = []
    for image in images:
        started = time.perf_counter()
        pipeline.analyze(image)
        in_process.append((time.perf_counter() - started) * 1000)
    with local_stack(workers=1) as stack:
        full, hits = service_latencies(stack.url, images)
    added = [f - p for f, p in zip(full, in_process, strict=True)]
    rows = [
        ["in-process pipeline", median(in_process), percentile(in_process, 0.95)],
        ["service: submit → succeeded", median(full), percentile(full, 0.95)],
        ["added by the queue path", median(added), percentile(added, 0.95)],
        ["service: dedup hit (200)", median(hits), percentile(hits, 0.95)],
    ]
    print(
        table(
            ["one 512x512 portrait, ms", "median", "p95"],
            rows,
            f"Service vs in-process ({args.runs} photos, 1 worker process)",
        )
    )
    print(f"\nratio service/in-process (median): {median(full) / median(in_process):.2f}")
    print()
    rates = throughput_table(args.throughput_images, args.rounds)
    save(
        "service",
        {
            "in_process_ms": in_process,
            "service_ms": full,
            "dedup_hit_ms": hits,
            "median_added_ms": float(np.median(added)),
            **rates,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
