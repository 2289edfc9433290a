"""One photo through the whole service (API + Redis + Celery) against the in-process pipeline,
and the response time of a dedup hit.

    python -m bench.service [--runs 40]
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import requests
from skimage import data

from bench import load, speed
from bench.common import median, percentile, save, table
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
    session = requests.Session()
    headers = {"Content-Type": "image/jpeg"}
    full = []
    for image in images:
        started = time.perf_counter()
        body = session.post(f"{url}/v1/analyses", data=image, headers=headers, timeout=30).json()
        while body["status"] not in ("succeeded", "failed"):
            body = session.get(
                f"{url}/v1/analyses/{body['id']}", params={"wait": 30}, timeout=40
            ).json()
        full.append((time.perf_counter() - started) * 1000)
    hits = []
    for image in images:
        started = time.perf_counter()
        response = session.post(f"{url}/v1/analyses", data=image, headers=headers, timeout=30)
        hits.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return full, hits


def service_throughput(images: list[bytes]) -> float:
    """Images per second through the whole service with 2 worker processes, all in flight."""
    with local_stack(workers=2) as stack:
        load.one_submission(stack.url, images[0])  # warm both sides
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=8) as pool:
            outcomes = list(
                pool.map(lambda image: load.one_submission(stack.url, image), images[1:])
            )
        seconds = time.perf_counter() - started
    assert all(o["status"] == "succeeded" for o in outcomes)
    return len(outcomes) / seconds


def throughput_table(count: int) -> dict[str, float]:
    images = load.distinct_images(count)
    in_process = speed.process_throughput(images[1:], processes=2)
    service = service_throughput(images)
    print(
        table(
            ["2 processes on 2 cores", "images/s"],
            [["in-process pipeline", in_process], ["service (API+Redis+Celery)", service]],
            f"Throughput, {count - 1} distinct portraits",
        )
    )
    print(f"\nservice / in-process: {service / in_process:.0%}")
    return {"in_process_per_s": in_process, "service_per_s": service}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--throughput-images", type=int, default=201)
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
    rates = throughput_table(args.throughput_images)
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
