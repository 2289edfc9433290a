"""Does each image bomb of issue 26 end as expected, under the memory ceiling? About 40 s.

The image bombs of issue 26 against a local stack with one analysis process: each file is
generated here (harness/bombs.py), sent as `curl --data-binary` would send it, and followed to its
end. Per file: the answer and the job's outcome, the analysis process's peak RSS while it was
handled (VmHWM from /proc, reset before each file), the time the worker held it, and how much
longer an unrelated photo submitted right behind it took than with no attack.

Bounds (a file breaking one fails the suite): its expected answer, peak RSS within the worker's
memory ceiling (READFACE_WORKER_MEMORY_MB), an unrelated analysis delayed less than 5 s, and the
same analysis process still serving.

    python -m bench.faults.abuse_images        (also part of `make abuse`)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from bench.common import save, table
from bench.faults.observe import analysis_seconds, baseline_seconds, jobs_seen
from bench.stack import Stack, local_stack
from harness import bombs
from harness.images import astronaut_jpeg
from harness.service import child_pids
from shared.settings import Settings, get_settings
from shared.store import Store
from worker.memory_limit import MB, status_bytes

DELAY_BOUND_SECONDS = 5.0
SETTLE_SECONDS = 120
SAMPLE_SECONDS = 0.02


@dataclass(frozen=True)
class Bomb:
    name: str
    build: Callable[[], bytes]
    content_type: str
    expected: str  # "422 invalid_image", or "202 " + the job's end ("succeeded", "failed: code")


BOMBS = [
    Bomb("PNG, IDAT declaring 0xFFFFFFF0 bytes", bombs.png_length_lie, "image/png",
         "422 invalid_image"),
    Bomb("PNG, 1,000 zTXt of 7 MB inflated", bombs.png_text_bomb, "image/png",
         "422 invalid_image"),
    Bomb("HEIF grid 31x31 tiles of 1024, ispe 1000", bombs.heif_grid, "image/heic",
         "422 invalid_image"),
    Bomb("JPEG arithmetic progressive CMYK 8000x6000", bombs.arithmetic_progressive_cmyk,
         "image/jpeg", "422 invalid_image"),
    Bomb("JPEG baseline CMYK 8064x6048, a scan per component",
         lambda: bombs.separate_scans_jpeg(8064, 6048), "image/jpeg", "422 invalid_image"),
    Bomb("JPEG lossless 4000x4000", lambda: bombs.lossless_jpeg(4000, 4000), "image/jpeg",
         "202 succeeded"),
    Bomb("APNG 16-bit RGBA 4000x4000, 2 frames", bombs.apng, "image/png", "202 succeeded"),
    Bomb("animated WebP 4690x4690, 2 frames", bombs.animated_webp, "image/webp",
         "202 succeeded"),
]  # fmt: skip


class PeakRss:
    """The analysis processes' peak RSS from now on: their VmHWM is reset (clear_refs), then
    read every SAMPLE_SECONDS, so a process replaced meanwhile still counts."""

    def __init__(self, stack: Stack) -> None:
        self.leader = stack.processes["worker"].pid
        self.pids = set(child_pids(self.leader))
        self.peak_bytes = 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._sample)

    def __enter__(self) -> PeakRss:
        for pid in self.pids:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopped.set()
        self.thread.join()

    def _sample(self) -> None:
        while True:
            pids = set(child_pids(self.leader))
            peaks = (status_bytes("VmHWM", pid) for pid in pids)
            self.peak_bytes = max([self.peak_bytes, *peaks])
            if self.stopped.wait(SAMPLE_SECONDS):
                return

    def replaced(self) -> bool:
        return set(child_pids(self.leader)) != self.pids


def _until_ended(store: Store, analysis_id: str) -> str:
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        seen = jobs_seen(store, [analysis_id])
        if not seen.pending:
            return next(iter(seen.outcomes))
        time.sleep(0.1)
    return "pending"


def run_bomb(
    stack: Stack, bomb: Bomb, photo: bytes, baseline: float, ceiling_mb: float
) -> tuple[dict[str, Any], list[str]]:
    """One file: its row and the bounds it broke."""
    store = Store(Settings(redis_url=stack.redis_url))
    data = bomb.build()
    with PeakRss(stack) as peak:
        response = requests.post(
            stack.url + "/v1/analyses",
            data=data,
            headers={"Content-Type": bomb.content_type},
            timeout=60,
        )
        body = response.json()
        answer = f"{response.status_code} " + (
            body["error"]["code"] if response.status_code >= 400 else ""
        )
        unrelated = analysis_seconds(stack.url, photo, SETTLE_SECONDS)
        held = 0.0
        if response.status_code == 202:
            answer += _until_ended(store, body["id"])
            held = jobs_seen(store, [body["id"]]).seconds
    replaced = peak.replaced()
    delay = None if unrelated is None else max(0.0, unrelated - baseline)
    row = {
        "file": bomb.name,
        "bytes": len(data),
        "answer": answer.strip(),
        "peak_rss_mb": round(peak.peak_bytes / MB),
        "held_seconds": round(held, 2),
        "unrelated_delay_seconds": None if delay is None else round(delay, 2),
        "worker_replaced": replaced,
    }
    failures = []
    if row["answer"] != bomb.expected:
        failures.append(f"answered {row['answer']!r}, expected {bomb.expected!r}")
    if row["peak_rss_mb"] > ceiling_mb:
        failures.append(f"peak worker RSS {row['peak_rss_mb']} MB > {ceiling_mb:g} MB")
    if delay is None or delay >= DELAY_BOUND_SECONDS:
        failures.append(f"an unrelated analysis was delayed {row['unrelated_delay_seconds']} s")
    if replaced:
        failures.append("the analysis process was replaced")
    return row, [f"{bomb.name}: {failure}" for failure in failures]


HEADERS = ["file", "bytes", "answer", "peak worker RSS MB", "held s", "unrelated +s"]


def run_all(stack: Stack, ceiling_mb: float) -> tuple[list[dict[str, Any]], list[str]]:
    photos = (astronaut_jpeg(quality=q) for q in range(20, 100))
    baseline = baseline_seconds(stack, photos)
    rows, failures = [], []
    for bomb in BOMBS:
        row, failed = run_bomb(stack, bomb, next(photos), baseline, ceiling_mb)
        rows.append(row)
        failures += failed
    return rows, failures


def print_table(rows: list[dict[str, Any]], ceiling_mb: float) -> None:
    cells = [
        [r["file"], r["bytes"], r["answer"], r["peak_rss_mb"], f"{r['held_seconds']:.2f}",
         "never" if r["unrelated_delay_seconds"] is None else f"{r['unrelated_delay_seconds']:.2f}"]
        for r in rows
    ]  # fmt: skip
    title = f"Image bombs (issue 26): 1 analysis process, memory ceiling {ceiling_mb:g} MB"
    print(table(HEADERS, cells, title))


def main() -> int:
    ceiling_mb = get_settings().worker_memory_mb
    with local_stack(workers=1) as stack:
        rows, failures = run_all(stack, ceiling_mb)
    print_table(rows, ceiling_mb)
    for failure in failures:
        print(f"FAILED {failure}")
    save("abuse_images", {"ceiling_mb": ceiling_mb, "files": rows, "failures": failures})
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
