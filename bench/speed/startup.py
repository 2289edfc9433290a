"""How long until a worker is ready, and what memory does each process hold? About 19 s.

Worker start-up to ready (models verified, loaded and warmed) and memory of each process.

python -m bench.speed.startup [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import IO

import requests

from bench.common import REPO, median, save, table
from bench.stack import open_log
from cli.processes import free_port, start_api, start_redis, start_worker, stop
from harness.service import child_pids


def _kb_line(path: Path, label: str) -> float:
    for line in path.read_text().splitlines():
        if line.startswith(label):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_mb(pid: int) -> float:
    return _kb_line(Path(f"/proc/{pid}/status"), "VmRSS:")


def pss_mb(pid: int) -> float:
    """The process's share of the machine's memory: pages it shares with other processes (the
    libraries' code, the pool's copy-on-write pages) counted divided among them."""
    return _kb_line(Path(f"/proc/{pid}/smaps_rollup"), "Pss:")


def one_start(url: str, env: dict[str, str], image: bytes, log: IO[bytes]) -> dict[str, float]:
    """Spawn a worker with a job already queued; time until the job has been analysed (the
    worker verified, loaded and warmed its models first)."""
    analysis = requests.post(
        f"{url}/v1/analyses", data=image, timeout=10, headers={"Content-Type": "image/jpeg"}
    ).json()
    started = time.perf_counter()
    worker = start_worker(env, 2, name=f"startup{free_port()}", log=log)
    done = None
    try:
        while done is None and time.perf_counter() - started < 60:
            body = requests.get(f"{url}/v1/analyses/{analysis['id']}", timeout=5).json()
            if body["status"] == "succeeded":
                done = time.perf_counter() - started
            time.sleep(0.01)
        pool = child_pids(worker.pid)
        memory = {
            "main": rss_mb(worker.pid),
            "pool": max(rss_mb(p) for p in pool),
            "pool_pss": max(pss_mb(p) for p in pool),
        }
    finally:
        stop(worker)
    return {"first_result_s": done or float("nan"), **memory}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    import cv2
    from skimage import data

    portrait = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    redis_port, api_port = free_port(), free_port()
    redis_process = start_redis(redis_port, None)
    env = {
        **os.environ,
        "READFACE_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "READFACE_MODEL_DIR": str(REPO / "models"),
        "READFACE_LOG_LEVEL": "WARNING",
    }
    with open_log() as log:
        api = start_api(env, "127.0.0.1", api_port, log=log)
        url = f"http://127.0.0.1:{api_port}"
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if requests.get(url + "/healthz", timeout=2).status_code == 200:
                        break
                except requests.ConnectionError:
                    time.sleep(0.05)
            runs = []
            for run in range(args.runs):
                image = cv2.imencode(".jpg", portrait, [cv2.IMWRITE_JPEG_QUALITY, 70 + run])[1]
                runs.append(one_start(url, env, image.tobytes(), log))
            api_rss = sum(rss_mb(pid) for pid in [api.pid, *child_pids(api.pid)])
        finally:
            stop(api)
            stop(redis_process)
    columns = ("first_result_s", "main", "pool", "pool_pss")
    rows = [[i + 1, *(r[k] for k in columns)] for i, r in enumerate(runs)]
    rows.append(["median", *(median([r[k] for r in runs]) for k in columns)])
    print(
        table(
            [
                "run",
                "start to first result, s",
                "worker main RSS, MB",
                "pool process RSS, MB",
                "pool process PSS, MB",
            ],
            rows,
            "Worker start-up (2 processes, job queued before start) and memory",
        )
    )
    print(f"\nAPI RSS (gunicorn master + worker): {api_rss:.0f} MB")
    save("startup", {"runs": runs, "api_rss_mb": api_rss})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
