"""Fair queueing across clients (issue 26) against a local stack: alice floods FLOOD photos, then
bob sends one; with 1 and 2 analysis processes, clients told apart by API key (tenants) and by
address (keys off, behind one proxy hop). And the quota counting work: carol sends TINY distinct
1x1 PNGs (about 70 bytes each) while no analysis runs.

Per flood: bob's delay (claimed -> ended, from his job), the job time (the median of alice's jobs,
started -> ended), the delay in job times, how many of alice's jobs ended between bob's arrival
and his end, and how many started in between (overtook him). Bounds (the suite fails past one):
alice's jobs ended meanwhile ≤ processes + 1 (those running when bob came, and one more), none
overtook him (one, her first, if none had started when he came), and carol's accepted tiny files
≤ the quota over the least a job counts.

    python -m bench.faults.abuse_fairness        (also part of `make abuse`)
"""

from __future__ import annotations

import os
import signal
import statistics
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import requests

from bench.common import save, table
from bench.stack import Stack, local_stack
from harness.images import astronaut_jpegs, encode
from shared.settings import Settings
from shared.store import Store
from shared.work_quota import MIN_JOB_COST

FLOOD = 200
TINY = 500
ALICE_KEY, BOB_KEY, CAROL_KEY = "alice-bench-key-1", "bob-bench-key-2", "carol-bench-key-3"
KEYS = f"alice:{ALICE_KEY},bob:{BOB_KEY},carol:{CAROL_KEY}"
POLL_SECONDS = 30


@dataclass(frozen=True)
class Times:
    """One job's moments, in seconds since the epoch (None: not yet)."""

    created: float
    started: float | None
    finished: float | None


def _seconds(value: bytes | None) -> float | None:
    return datetime.fromisoformat(value.decode()).timestamp() if value else None


def job_times(store: Store, analysis_id: str, tenant: str) -> tuple[Times, dict[bytes, bytes]]:
    raw = store.redis.hgetall(store.analysis_key("job", analysis_id, tenant))
    created = _seconds(raw.get(b"created_at"))
    assert created is not None
    return Times(created, _seconds(raw.get(b"started_at")), _seconds(raw.get(b"finished_at"))), raw


def session_of(keys: bool, key: str, address: str) -> requests.Session:
    session = requests.Session()
    session.headers.update({"X-API-Key": key} if keys else {"X-Forwarded-For": address})
    return session


def submit(session: requests.Session, url: str, data: bytes) -> requests.Response:
    return session.post(
        url + "/v1/analyses", data=data, headers={"Content-Type": "image/jpeg"}, timeout=60
    )


def wait_ended(session: requests.Session, url: str, analysis_id: str) -> str:
    for _ in range(20):
        body = session.get(f"{url}/v1/analyses/{analysis_id}?wait={POLL_SECONDS}", timeout=60)
        status = body.json()["status"]
        if status not in ("queued", "running"):
            return status
    raise RuntimeError(f"analysis {analysis_id} did not end")


def flood(processes: int, keys: bool) -> dict[str, Any]:
    """Alice's FLOOD photos, then bob's one: what bob waited, in seconds and in alice's jobs."""
    photos = astronaut_jpegs(FLOOD + 1)
    settings = {"READFACE_API_KEYS": KEYS} if keys else {"READFACE_PROXY_HOPS": "1"}
    with local_stack(workers=processes, **settings) as stack:
        alice = session_of(keys, ALICE_KEY, "192.0.2.1")
        bob = session_of(keys, BOB_KEY, "192.0.2.2")
        alice_ids = [submit(alice, stack.url, photo).json()["id"] for photo in photos[:FLOOD]]
        bob_id = submit(bob, stack.url, photos[FLOOD]).json()["id"]
        status = wait_ended(bob, stack.url, bob_id)
        store = Store(Settings(redis_url=stack.redis_url))
        bob_times, bob_raw = job_times(store, bob_id, "bob" if keys else "")
        alice_times = [job_times(store, i, "alice" if keys else "")[0] for i in alice_ids]
    assert bob_times.started is not None and bob_times.finished is not None
    arrived, began, ended = bob_times.created, bob_times.started, bob_times.finished
    durations = [t.finished - t.started for t in alice_times if t.finished and t.started]
    job_time = statistics.median(durations)
    overtaken, claimed_after = None, None
    if b"execution" in bob_raw:  # the executions counter at his claim and as he started
        claimed_after = int(bob_raw[b"executions_at_claim"])
        overtaken = int(bob_raw[b"execution"]) - claimed_after - 1
    return {
        "processes": processes,
        "clients": "tenants" if keys else "addresses",
        "bob_status": status,
        "bob_delay_seconds": ended - arrived,
        "job_seconds": job_time,
        "bob_delay_job_times": (ended - arrived) / job_time,
        "bob_job_seconds": ended - began,
        "alice_ended_meanwhile": sum(arrived < (t.finished or 0) <= ended for t in alice_times),
        "alice_started_ahead": overtaken,
        "executions_at_arrival": claimed_after,
        "alice_waiting_at_arrival": sum((t.started or ended + 1) > arrived for t in alice_times),
        "alice_started_ahead_by_clock": sum(
            arrived < (t.started or 0) < began for t in alice_times
        ),
    }


def flood_failures(row: dict[str, Any]) -> list[str]:
    name = f"{row['processes']} process(es), per {row['clients']}"
    failures = []
    if row["bob_status"] != "succeeded":
        failures.append(f"{name}: bob's photo {row['bob_status']}")
    if row["alice_ended_meanwhile"] > row["processes"] + 1:
        failures.append(
            f"{name}: {row['alice_ended_meanwhile']} of alice's jobs ended while bob's waited"
        )
    # once alice has had a turn none may overtake bob; before, her first job came first
    allowed = 0 if row["executions_at_arrival"] else 1
    if row["alice_started_ahead"] is None or row["alice_started_ahead"] > allowed:
        failures.append(f"{name}: {row['alice_started_ahead']} of alice's jobs overtook bob's")
    return failures


def tiny_files() -> list[bytes]:
    pixels = (np.full((1, 1, 3), (n % 256, n // 256, 9), dtype=np.uint8) for n in range(TINY))
    return [encode(pixel, "PNG") for pixel in pixels]


def tiny_flood(stack: Stack) -> dict[str, Any]:
    """Carol's TINY files while the analysis worker is stopped (nothing leaves the queue)."""
    carol = session_of(True, CAROL_KEY, "")
    worker = stack.processes["worker"].pid
    os.killpg(worker, signal.SIGSTOP)
    try:
        answers = [submit(carol, stack.url, data).status_code for data in tiny_files()]
    finally:
        os.killpg(worker, signal.SIGCONT)
    quota = Settings().max_queued_bytes_per_client
    return {"sent": TINY, "accepted": answers.count(202), "refused_429": answers.count(429),
            "bound": quota // MIN_JOB_COST}  # fmt: skip


def main() -> int:
    rows = [flood(processes, keys) for keys in (True, False) for processes in (1, 2)]
    failures = [failure for row in rows for failure in flood_failures(row)]
    print(
        table(
            ["processes", "clients", "bob's delay s", "his job s", "job s", "delay in job times",
             "alice's ended meanwhile", "alice's started ahead (by clock)", "alice's waiting"],
            [[r["processes"], r["clients"], f"{r['bob_delay_seconds']:.2f}",
              f"{r['bob_job_seconds']:.2f}",
              f"{r['job_seconds']:.3f}", f"{r['bob_delay_job_times']:.2f}",
              r["alice_ended_meanwhile"],
              f"{r['alice_started_ahead']} ({r['alice_started_ahead_by_clock']})",
              r["alice_waiting_at_arrival"]] for r in rows],
            f"Fair queueing (issue 26): alice queues {FLOOD} photos, then bob sends one",
        )
    )  # fmt: skip
    with local_stack(workers=1, READFACE_API_KEYS=KEYS) as stack:
        quota = tiny_flood(stack)
    if quota["accepted"] > quota["bound"]:
        failures.append(f"tiny files: {quota['accepted']} accepted, over {quota['bound']}")
    print(
        f"\nQuota counting work: carol sent {quota['sent']} files of ~70 bytes, "
        f"{quota['accepted']} accepted, {quota['refused_429']} refused (bound {quota['bound']})"
    )
    for failure in failures:
        print(f"FAILED {failure}")
    save("abuse_fairness", {"floods": rows, "tiny_files": quota, "failures": failures})
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
