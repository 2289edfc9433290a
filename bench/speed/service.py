"""What does the service (API, Redis, Celery) add to the pipeline's time? About 5 min.

One photo through the whole service (API + Redis + Celery) against the in-process pipeline,
the CPU each part spends per photo (the queue path: API, Redis, the worker's main process and
what its pool process spends beyond the pipeline), the API's CPU per request that costs no
analysis (health check, a finished result, a dedup hit), and the response time of a dedup hit;
throughput against in-process with 2 processes on 2 shared cores, and with one worker on a core
of its own (API, Redis and the client on the other).

    python -m bench.speed.service [--runs 40]
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.pool import Pool
from typing import Any

import cv2
import numpy as np
from skimage import data

from bench.common import cpu_seconds, median, percentile, save, table
from bench.faults import load
from bench.speed import pools
from bench.stack import Stack, local_stack
from harness.service import child_pids
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


def parts_cpu(stack: Stack) -> dict[str, float]:
    """CPU seconds used so far by each part of the stack, and by this process (the client)."""
    api, worker = stack.processes["API"].pid, stack.processes["worker"].pid
    return {
        "API": sum(cpu_seconds(pid) for pid in [api, *child_pids(api)]),
        "Redis": cpu_seconds(stack.redis_pid),
        "worker main process": cpu_seconds(worker),
        "worker pool process": sum(cpu_seconds(pid) for pid in child_pids(worker)),
        "client (this bench)": time.process_time(),
    }


def service_latencies(
    stack: Stack, images: list[bytes]
) -> tuple[list[float], list[float], dict[str, float]]:
    """Submit→succeeded for each image (long-poll), then dedup-hit response times; and the CPU
    each part used per image for the submissions."""
    url, full = stack.url, []
    before = parts_cpu(stack)
    for image in images:
        started = time.perf_counter()
        load.one_submission(url, image)
        full.append((time.perf_counter() - started) * 1000)
    after = parts_cpu(stack)
    cpu = {part: (after[part] - before[part]) / len(images) * 1000 for part in before}
    hits = []
    for image in images:
        started = time.perf_counter()
        status, _ = load.call(url, "POST", "/v1/analyses", image)
        hits.append((time.perf_counter() - started) * 1000)
        assert status == 200
    return full, hits, cpu


def api_cpu_by_request(stack: Stack, image: bytes, count: int) -> dict[str, float]:
    """The API's CPU per request of each kind that costs no analysis, `count` of each on one
    keep-alive connection (after `image` was analysed): what a request costs by itself, and so
    how much of a new photo's API CPU is its own work (the claim, the blob, the task message)."""
    api = stack.processes["API"].pid
    analysis_id = load.one_submission(stack.url, image)["id"]
    requests = {
        "GET /healthz": ("GET", "/healthz", None),
        "GET a finished analysis": ("GET", f"/v1/analyses/{analysis_id}", None),
        "POST a dedup hit": ("POST", "/v1/analyses", image),
    }
    cpu = {}
    for name, (method, path, body) in requests.items():
        before = sum(cpu_seconds(pid) for pid in [api, *child_pids(api)])
        for _ in range(count):
            load.call(stack.url, method, path, body)
        after = sum(cpu_seconds(pid) for pid in [api, *child_pids(api)])
        cpu[name] = (after - before) / count * 1000
    return cpu


def cpu_table(cpu: dict[str, float], pipeline_cpu: float) -> dict[str, float]:
    """Print each part's CPU per image and the queue path's: the API, Redis, the worker's main
    process and what its pool process spends beyond the in-process pipeline."""
    rows = [[part, ms] for part, ms in cpu.items()]
    path = sum(cpu[part] for part in ("API", "Redis", "worker main process"))
    path += cpu["worker pool process"] - pipeline_cpu
    rows += [["in-process pipeline", pipeline_cpu], ["queue path (API, Redis, worker)", path]]
    print(table(["part", "CPU ms per photo"], rows, "CPU per photo, one at a time"))
    return {**cpu, "in-process pipeline": pipeline_cpu, "queue path": path}


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


def alternating_rounds(
    pool: Pool, processes: int, url: str, images: list[bytes], rounds: int, title: str
) -> tuple[list[list[Any]], float]:
    """In-process and service throughput in alternating rounds on the same warm processes, so
    that a slower spell of this shared machine hits both about equally: the table's rows, and
    the median of the service's share."""
    load.one_submission(url, images[0])  # warm both sides
    rows: list[list[Any]] = []
    for number in range(1, rounds + 1):
        in_process = pools.pool_throughput(pool, images[1:], processes)
        service = service_rate(url, images[1:])
        rows.append([number, in_process, service, f"{service / in_process:.0%}"])
    columns = ["round", "in-process img/s", "service img/s", "service / in-process"]
    print(table(columns, rows, title))
    return rows, median([row[2] / row[1] for row in rows])


def throughput_table(count: int, rounds: int) -> dict[str, Any]:
    """In-process and service throughput with 2 processes on the 2 cores both share."""
    images = load.distinct_images(count)
    title = f"Throughput with 2 processes on 2 cores, {count - 1} distinct portraits per round"
    with pools.pipeline_pool(2) as pool, local_stack(workers=2) as stack:
        rows, ratio = alternating_rounds(pool, 2, stack.url, images, rounds, title)
    print(f"\nservice / in-process (median of rounds): {ratio:.0%}")
    return {"rounds": rows, "ratio": ratio}


def dedicated_core_table(count: int, rounds: int) -> dict[str, Any]:
    """One worker (main and pool process) on a core of its own, the API, Redis and this client
    on the other, against one in-process pipeline on the worker's core: the service's share as
    deployed with the front on machines or cores of its own."""
    images = load.distinct_images(count)
    cores = os.sched_getaffinity(0)
    front_core, worker_core = sorted(cores)[:2]
    title = "The worker on a core of its own (API, Redis and the client on the other), 1 process"
    with pools.pipeline_pool(1) as pool, local_stack(workers=1) as stack:
        api, worker = stack.processes["API"].pid, stack.processes["worker"].pid
        for pid in [api, *child_pids(api), stack.redis_pid, os.getpid()]:
            os.sched_setaffinity(pid, {front_core})
        for pid in [worker, *child_pids(worker)]:
            os.sched_setaffinity(pid, {worker_core})
        pool.apply(os.sched_setaffinity, (0, {worker_core}))  # the pool's one process
        rows, ratio = alternating_rounds(pool, 1, stack.url, images, rounds, title)
    os.sched_setaffinity(0, cores)
    print(f"\nservice / in-process, worker on its own core (median of rounds): {ratio:.0%}")
    return {"dedicated_rounds": rows, "dedicated_ratio": ratio}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--throughput-images", type=int, default=201)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=500, help="of each kind, for API CPU")
    args = parser.parse_args(argv)
    images = photos(args.runs)
    cv2.setNumThreads(1)
    pipeline = load_pipeline(get_settings())
    in_process = []
    cpu_started = time.process_time()
    for image in images:
        started = time.perf_counter()
        pipeline.analyze(image)
        in_process.append((time.perf_counter() - started) * 1000)
    pipeline_cpu = (time.process_time() - cpu_started) / len(images) * 1000
    with local_stack(workers=1) as stack:
        full, hits, cpu = service_latencies(stack, images)
        by_request = api_cpu_by_request(stack, images[0], args.requests)
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
    cpu_ms = cpu_table(cpu, pipeline_cpu)
    print()
    title = f"API CPU per request that costs no analysis ({args.requests} each)"
    print(table(["request", "API CPU ms"], list(by_request.items()), title))
    print()
    rates = throughput_table(args.throughput_images, args.rounds)
    if len(os.sched_getaffinity(0)) >= 2:
        print()
        rates |= dedicated_core_table(args.throughput_images, args.rounds)
    save(
        "service",
        {
            "in_process_ms": in_process,
            "service_ms": full,
            "dedup_hit_ms": hits,
            "median_added_ms": float(np.median(added)),
            "cpu_ms_per_photo": cpu_ms,
            "api_cpu_ms_per_request": by_request,
            **rates,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
