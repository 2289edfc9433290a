"""Redis Sentinel for real: Debian's redis-server as a primary and a replica, three
sentinels, the API under gunicorn and a Celery worker on a sentinel:// URL.

The primary is SIGKILLed with hundreds of jobs in flight and uploads still arriving; the
sentinels promote the replica, the API and the workers find it on their own, and every job
accepted before, during and after ends exactly once. READFACE_REDIS_ACK_REPLICAS=1 makes a 202
mean that the replica holds the job, so the promotion cannot lose it.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from harness.images import astronaut_jpegs
from harness.retried_uploads import SUBMIT_DEADLINE_SECONDS, Submissions
from harness.sentinel import Node, running_sentinel_deployment
from harness.service import (
    assert_all_end_once,
    poll,
    running_api,
    running_worker,
    service_env,
    store_for,
    wait_ready,
)
from shared.job_states import analysis_id_for
from shared.redis_connection import redis_client
from shared.settings import Settings
from shared.store import Store

pytestmark = pytest.mark.integration

JOBS = 500
# The primary dies once this many are accepted: the rest arrive during and after the failover.
KILL_AT_ACCEPTED = 300
SUBMITTERS = 4


def sentinel_env(url: str) -> dict[str, str]:
    return service_env(
        url,
        READFACE_REDIS_ACK_REPLICAS="1",
        # 500 uploads and their polls from one address
        READFACE_RATE_LIMIT_PER_MINUTE="1000000",
        # a job whose end the dead primary took along comes back after the visibility timeout
        # (hard limit + 15 s): short here, so the test need not wait the default 105 s for it
        READFACE_TASK_SOFT_TIME_LIMIT="10",
        READFACE_TASK_HARD_TIME_LIMIT="15",
    )


def first_run_after(store: Store, ids: list[str], moment: float) -> float:
    """Seconds from `moment` (wall clock) to the first end of a job that also started after
    it: one analysis run wholly on the promoted primary. (Analyses running at the kill end
    right after the promotion: their last step waits the failover out and is retried. One that
    started on the old primary just before the kill may have no start at all on the new one.)"""
    ends = []
    for analysis_id in ids:
        started, finished = store.redis.hmget(
            store.analysis_key("job", analysis_id), "started_at", "finished_at"
        )
        if started is not None and _seconds(started) > moment:
            ends.append(_seconds(finished) - moment)
    return min(ends)


def _seconds(stamp: bytes) -> float:
    return datetime.fromisoformat(stamp.decode()).timestamp()


def test_primary_killed_with_jobs_in_flight_every_job_ends_once(tmp_path: Path) -> None:
    payloads = astronaut_jpegs(JOBS)
    with running_sentinel_deployment(tmp_path) as deployment:
        env = sentinel_env(deployment.url)
        with running_worker(env, concurrency=2), running_api(env) as api:
            wait_ready(api)
            submissions = Submissions(api.url, payloads)
            threads = submissions.run(SUBMITTERS)
            poll(submissions.accepted_at_least(KILL_AT_ACCEPTED), 60, "uploads accepted")
            store = store_for(deployment.url)
            in_flight = KILL_AT_ACCEPTED - store.counters()["succeeded"]

            old = deployment.primary()
            killed = time.monotonic()
            old.kill()
            deployment.wait_promoted(old)
            promoted_wall, promoted = time.time(), time.monotonic() - killed
            deployment.rejoin(old)  # as a supervisor restarts it: it comes back a replica
            for thread in threads:
                thread.join(timeout=SUBMIT_DEADLINE_SECONDS + 10)
            assert not submissions.errors, submissions.errors
            ids = list(submissions.accepted)
            assert len(ids) == JOBS
            poll(lambda: store.counters()["succeeded"] >= JOBS, 90, "every job to end")
            assert_all_end_once(api, ids, deployment.url)

            first_accepted = submissions.first_accepted_after(killed)
            first_run = first_run_after(store, ids, promoted_wall) + promoted
            counters = store.counters()
            print(
                f"\nSentinel failover, {JOBS} jobs ({in_flight} in flight at the kill): "
                f"replica promoted {promoted:.2f} s after the SIGKILL; first upload accepted "
                f"{first_accepted:.2f} s, first analysis run on the new primary done "
                f"{first_run:.2f} s after it; {submissions.refused} answers 503 or none; "
                f"{counters['executions']} executions for {JOBS} jobs, each ended once"
            )
            assert in_flight > 0  # the kill came with work in flight, or it proved nothing


def test_a_job_no_replica_acknowledges_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    [stalled, accepted] = astronaut_jpegs(2)
    # Passwords with characters a URL must escape, on the data nodes and on the sentinels: the
    # store, the broker and the sentinel queries each log in with the right one.
    with running_sentinel_deployment(
        tmp_path, password="p@ss/w:rd", sentinel_password="s&ntinel=pw"
    ) as deployment:
        replica = next(node for node in deployment.data if node is not deployment.primary())
        with running_api(sentinel_env(deployment.url)) as api:
            assert replica.process is not None
            os.kill(replica.process.pid, signal.SIGSTOP)  # it holds nothing new, acks nothing
            try:
                refused = api.submit(stalled)
            finally:
                os.kill(replica.process.pid, signal.SIGCONT)
            assert refused.status_code == 503, refused.text
            assert refused.json()["error"]["code"] == "unavailable"
            assert store_for(deployment.url).job(analysis_id_for(stalled)) is None  # rolled back

            response = api.submit(accepted)
            assert response.status_code == 202, response.text
            on_replica = Store(Settings(), client=replica.client())
            job = on_replica.job(response.json()["id"])
            assert job is not None and job.status == "queued"


def test_a_command_cut_off_by_the_failover_is_retried_on_the_promoted_replica(
    tmp_path: Path,
) -> None:
    # A command whose connection the kill cuts is retried on a new connection. That one must ask
    # the sentinels again: the old address refuses, then (restarted) is a read-only replica.
    with running_sentinel_deployment(tmp_path) as deployment:
        client = redis_client(deployment.url, socket_timeout=40, socket_connect_timeout=2)
        popped: list[object] = []
        waiting = threading.Thread(target=lambda: popped.append(client.blpop(["wake"], 30)))
        waiting.start()
        poll(lambda: _blocked_clients(deployment.primary()) == 1, 10, "BLPOP to block")
        old = deployment.primary()
        old.kill()
        new = deployment.wait_promoted(old)
        deployment.rejoin(old)
        poll(lambda: _blocked_clients(new) == 1, 20, "BLPOP to block on the new primary")
        new.client().lpush("wake", "up")
        waiting.join(timeout=10)
        assert popped == [(b"wake", b"up")]


def _blocked_clients(node: Node) -> int:
    return int(node.client().info("clients")["blocked_clients"])
