"""What does a Sentinel failover cost uploads, and what does WAIT buy? About 80 s.

`python -m bench.faults.failover`: Redis Sentinel failovers under uploads, what the WAIT behind a
new job costs, and what asynchronous replication loses without it.

Each part runs Debian's redis-server (a primary, a replica) and three sentinels
(harness/sentinel.py: down-after 1 s) with the API under gunicorn; no worker is needed, the jobs
only queue.

1. Failovers: uploads arrive from 4 clients that retry on 503 (READFACE_REDIS_ACK_REPLICAS=1);
   the primary is SIGKILLed, the sentinels promote the replica, the killed node is restarted as
   a replica; seconds from the kill to the promotion and to the first upload accepted again.
2. The cost of WAIT: one client's upload latency with READFACE_REDIS_ACK_REPLICAS 0 and 1.
3. What replication can lose: the replica stalls (SIGSTOP) while uploads arrive, the primary is
   SIGKILLed, the replica resumes and is promoted; how many uploads answered 202 the promoted
   replica lacks, without WAIT (0) and with it (1).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.common import median, percentile, save, table
from harness.images import astronaut_jpegs, astronaut_rgb, encode
from harness.retried_uploads import Submissions
from harness.sentinel import SentinelDeployment, running_sentinel_deployment
from harness.service import Api, poll, running_api, service_env, store_for
from shared.job_states import analysis_id_for


def _env(url: str, ack_replicas: int) -> dict[str, str]:
    return service_env(
        url,
        READFACE_REDIS_ACK_REPLICAS=str(ack_replicas),
        READFACE_RATE_LIMIT_PER_MINUTE="1000000",
        READFACE_MAX_QUEUED_BYTES_PER_CLIENT=str(1 << 30),
    )


@contextmanager
def _stack(ack_replicas: int) -> Iterator[tuple[SentinelDeployment, Api]]:
    with (
        tempfile.TemporaryDirectory() as root,
        running_sentinel_deployment(Path(root)) as deployment,
        running_api(_env(deployment.url, ack_replicas)) as api,
    ):
        yield deployment, api


def failovers(rounds: int, uploads: int) -> list[dict[str, float]]:
    results = []
    payloads = astronaut_jpegs(rounds * uploads)
    with _stack(ack_replicas=1) as (deployment, api):
        for round_ in range(rounds):
            batch = payloads[round_ * uploads : (round_ + 1) * uploads]
            submissions = Submissions(api.url, batch)
            threads = submissions.run(4)
            poll(submissions.accepted_at_least(uploads // 3), 60, "uploads accepted")
            old = deployment.primary()
            killed = time.monotonic()
            old.kill()
            deployment.wait_promoted(old)
            promoted = time.monotonic() - killed
            deployment.rejoin(old)
            for thread in threads:
                thread.join()
            if submissions.errors or len(submissions.accepted) != uploads:
                raise RuntimeError(f"uploads not accepted: {submissions.errors}")
            results.append(
                {
                    "promoted_s": promoted,
                    "first_accepted_s": submissions.first_accepted_after(killed),
                    "refused": submissions.refused,
                }
            )
    return results


def wait_cost(uploads: int) -> dict[int, list[float]]:
    latencies: dict[int, list[float]] = {}
    payloads = astronaut_jpegs(2 * uploads)
    for ack, batch in ((0, payloads[:uploads]), (1, payloads[uploads:])):
        with _stack(ack) as (_, api):
            timings = []
            for data in batch:
                started = time.perf_counter()
                response = api.submit(data)
                timings.append((time.perf_counter() - started) * 1000)
                if response.status_code != 202:
                    raise RuntimeError(response.text)
            latencies[ack] = timings
    return latencies


def stalled_replica_loss(ack_replicas: int, uploads: int) -> dict[str, int]:
    """Uploads answered 202 while the replica was stalled, and how many of them the replica,
    once promoted, does not have."""
    # full-size portraits (about 80 KB each), so that some are still in the primary's own
    # buffers, past the kernel's socket buffers, when it is killed
    portrait = astronaut_rgb()
    payloads = [
        encode(portrait, "JPEG", quality=95, comment=f"stalled {i}".encode())
        for i in range(uploads)
    ]
    with _stack(ack_replicas) as (deployment, api):
        old = deployment.primary()
        replica = next(node for node in deployment.data if node is not old)
        assert replica.process is not None
        os.kill(replica.process.pid, signal.SIGSTOP)
        accepted = [
            analysis_id_for(data) for data in payloads if api.submit(data).status_code == 202
        ]
        old.kill()
        os.kill(replica.process.pid, signal.SIGCONT)
        deployment.wait_promoted(old, timeout=90)
        store = store_for(deployment.url)
        lost = sum(store.job(analysis_id) is None for analysis_id in accepted)
    return {"sent": uploads, "accepted": len(accepted), "lost": lost}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--uploads", type=int, default=300, help="per failover round")
    args = parser.parse_args(argv)

    rounds = failovers(args.rounds, args.uploads)
    print(
        table(
            ["round", "kill -> promoted s", "kill -> first 202 s", "503 or no answer"],
            [
                (i + 1, r["promoted_s"], r["first_accepted_s"], r["refused"])
                for i, r in enumerate(rounds)
            ],
            title=f"Failovers, {args.uploads} uploads a round from 4 clients (ack replicas 1)",
        )
    )
    latencies = wait_cost(200)
    print()
    print(
        table(
            ["ack replicas", "p50 ms", "p95 ms"],
            [(ack, median(v), percentile(v, 0.95)) for ack, v in latencies.items()],
            title="One client's upload latency (200 uploads each)",
        )
    )
    # with WAIT each upload waits 0.5 s for the stalled replica: fewer of them
    losses = {0: stalled_replica_loss(0, 400), 1: stalled_replica_loss(1, 10)}
    print()
    print(
        table(
            ["ack replicas", "sent", "answered 202", "202s the promoted replica lacks"],
            [(ack, r["sent"], r["accepted"], r["lost"]) for ack, r in losses.items()],
            title="Replica stalled (SIGSTOP) during the uploads, then the primary SIGKILLed",
        )
    )
    save("failover", {"rounds": rounds, "latency_ms": latencies, "stalled_replica": losses})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
