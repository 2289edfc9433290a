"""Under 1,000 submissions, is anything accepted lost or run twice? About 40 s.

Bounded load from a second process: many submissions in flight, duplicates mixed in, against
two worker processes. Nothing accepted may be lost, deduplicated ids run once, and no upload is
left in the blob store.

    python -m bench.faults.load [--submissions 1000] [--distinct 320] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import cv2
import redis
from skimage import data

from bench.common import median, percentile, save, table
from bench.stack import local_stack

DEADLINE_SECONDS = 600


def distinct_images(count: int) -> list[bytes]:
    """Different bytes of real portraits: crops, flips and JPEG qualities of one photo."""
    bgr = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    images = []
    for i in range(count):
        shift = (i // 2) % 40
        crop = bgr[shift : 472 + shift, shift : 472 + shift]
        if i % 2:
            crop = crop[:, ::-1]
        quality = 60 + (i // 80) * 8
        images.append(cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes())
    assert len(set(images)) == count
    return images


_local = threading.local()


def call(url: str, method: str, path: str, body: bytes | None = None) -> tuple[int, Any]:
    """One HTTP request on this thread's keep-alive connection: (status, JSON body or None).
    Plain http.client, because the load generator shares the cores with the service and requests
    costs about four times more CPU per call."""
    connections = _local.__dict__.setdefault("connections", {})
    if url not in connections:
        parts = urllib.parse.urlsplit(url)
        connections[url] = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    connection = connections[url]
    headers = {"Content-Type": "image/jpeg"} if body is not None else {}
    try:
        return _exchange(connection, method, path, body, headers)
    except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
        # gunicorn closes a keep-alive connection idle for 2 s; the request reopens it
        return _exchange(connection, method, path, body, headers)


def _exchange(
    connection: http.client.HTTPConnection,
    method: str,
    path: str,
    body: bytes | None,
    headers: dict[str, str],
) -> tuple[int, Any]:
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        content = response.read()
    except (OSError, http.client.HTTPException):
        connection.close()
        raise
    return response.status, json.loads(content) if content else None


def one_submission(url: str, image: bytes) -> dict[str, Any]:
    """POST, then long-poll to the end; what happened and how long it took."""
    started = time.perf_counter()
    try:
        status, body = call(url, "POST", "/v1/analyses", image)
        if status not in (200, 202):
            return {"accepted": False, "error": status}
        deadline = time.monotonic() + DEADLINE_SECONDS
        while body["status"] not in ("succeeded", "failed") and time.monotonic() < deadline:
            body = call(url, "GET", f"/v1/analyses/{body['id']}?wait=20")[1]
    except (OSError, http.client.HTTPException) as error:
        return {"accepted": False, "error": type(error).__name__}
    return {
        "accepted": True,
        "id": body["id"],
        "status": body["status"],
        "dedup": status == 200,
        "ms": (time.perf_counter() - started) * 1000,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--submissions", type=int, default=1000)
    parser.add_argument("--distinct", type=int, default=320)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args(argv)
    images = distinct_images(args.distinct)
    rng = random.Random(7)
    order = images + [rng.choice(images) for _ in range(args.submissions - len(images))]
    rng.shuffle(order)
    with local_stack(workers=2) as stack:
        client = redis.Redis.from_url(stack.redis_url)
        memory_before = client.info("memory")["used_memory"]
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            outcomes = list(pool.map(lambda image: one_submission(stack.url, image), order))
        seconds = time.perf_counter() - started
        memory_after = client.info("memory")["used_memory"]
        executions = int(client.get("readface:stats:executions") or 0)
        keys = list(client.scan_iter(match="readface:*", count=1000))
        without_ttl = [k for k in keys if client.ttl(k) == -1 and b":stats:" not in k]
        # every job has ended: its worker deletes its upload right after (no upload is left)
        deadline = time.monotonic() + 10
        while list((stack.blob_dir / "uploads").iterdir()) and time.monotonic() < deadline:
            time.sleep(0.1)
        uploads_left = len(list((stack.blob_dir / "uploads").iterdir()))
        images = [p.stat().st_size for p in (stack.blob_dir / "annotated").iterdir()]
    accepted = [o for o in outcomes if o["accepted"]]
    ids = {o["id"] for o in accepted}
    latencies = [o["ms"] for o in accepted]
    summary = {
        "submissions": len(order),
        "distinct_images": len(images),
        "accepted": len(accepted),
        "completed": sum(o["status"] == "succeeded" for o in accepted),
        "failed": sum(o["status"] == "failed" for o in accepted),
        "lost": sum(o["status"] not in ("succeeded", "failed") for o in accepted),
        "dedup_hits": sum(o["dedup"] for o in accepted),
        "distinct_ids": len(ids),
        "executions": executions,
        "duplicate_executions": executions - len(ids),
        "p50_ms": median(latencies),
        "p95_ms": percentile(latencies, 0.95),
        "throughput_per_s": len(accepted) / seconds,
        "seconds": seconds,
        "redis_bytes_per_analysis": (memory_after - memory_before) / max(1, len(ids)),
        "keys_without_ttl": len(without_ttl),
        "uploads_left": uploads_left,
        "annotated_images": len(images),
        "blob_bytes_per_analysis": sum(images) / max(1, len(ids)),
    }
    print(
        table(
            ["measure", "value"],
            [[k, v] for k, v in summary.items()],
            f"Load: {len(order)} submissions, {args.concurrency} in flight, 2 workers",
        )
    )
    save("load", summary)
    ok = (
        summary["lost"] == 0
        and summary["duplicate_executions"] == 0
        and not without_ttl
        and summary["uploads_left"] == 0
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
