"""Messages the broker cannot give back: a worker killed with its message gone from the unacked
set, a message popped and never delivered. The sweeper sends the job again once its lease has
passed, within one sweep, and it ends once; a healthy running job is never run twice, and jobs
still waiting in the queue are not sent again however long they wait."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
import redis
from kombu.exceptions import OperationalError

from cli.processes import free_port, redis_url
from harness.images import astronaut_jpeg, slow_png
from harness.service import (
    UNWRITTEN,
    Api,
    held_at,
    poll,
    running_api,
    running_redis,
    running_worker,
    service_env,
    store_for,
    submit_all,
    wait_ready,
)
from shared.celery_app import ANALYZE_QUEUE, ANALYZE_TASK, RESTORE_SWEEP_SECONDS, create_celery_app
from shared.job_states import analysis_id_for
from shared.settings import Settings
from shared.store import DueJob, Store
from shared.store.keys import attempt_lease_seconds
from worker.sweeper import Sweeper

pytestmark = pytest.mark.integration
# A 16 MP PNG takes a second or two here: these limits never strike a healthy attempt.
SOFT_LIMIT, HARD_LIMIT = 8, 10
LEASE = attempt_lease_seconds(Settings(task_hard_time_limit=HARD_LIMIT))
# Once due, a job is sent within one sweep; then a worker starts and runs it (a few seconds here).
RUN_SLACK_SECONDS = 15
# kombu's keys for the messages an analysis worker holds unacknowledged (callback workers have
# their own: shared/celery_app.py)
UNACKED_KEYS = ("unacked", "unacked_index")


def limits_env(redis_url: str) -> dict[str, str]:
    return service_env(
        redis_url,
        READFACE_TASK_SOFT_TIME_LIMIT=str(SOFT_LIMIT),
        READFACE_TASK_HARD_TIME_LIMIT=str(HARD_LIMIT),
    )


def limits_store(redis_url: str) -> Store:
    return Store(Settings(redis_url=redis_url, task_hard_time_limit=HARD_LIMIT))


def status(store: Store, analysis_id: str) -> str | None:
    job = store.job(analysis_id)
    return job.status if job else None


def ended_at(api: Api, analysis_id: str) -> float:
    """When (time.monotonic) the analysis was seen ending; it must have succeeded."""
    body = api.wait_done(analysis_id, timeout=LEASE + RESTORE_SWEEP_SECONDS + 60)
    assert body["status"] == "succeeded", body
    return time.monotonic()


def test_a_worker_killed_with_its_message_lost_has_its_job_run_again_once() -> None:
    with running_redis() as server:
        env = limits_env(server.url)
        store = limits_store(server.url)
        with running_api(env) as api:
            with running_worker(env, 1, queues=ANALYZE_QUEUE) as lost:
                wait_ready(api)
                [analysis_id] = submit_all(api, [slow_png(11)])
                poll(lambda: status(store, analysis_id) == "running", 60, "the job to run")
                started = time.monotonic()
                os.killpg(lost.pid, signal.SIGKILL)  # the whole host: main process and pool
            # what the broker would restore after its visibility timeout, gone with the host
            assert store.redis.delete(*UNACKED_KEYS) == len(UNACKED_KEYS)
            assert store.redis.llen(ANALYZE_QUEUE) == 0
            with running_worker(env, 1, queues=ANALYZE_QUEUE):
                seconds = ended_at(api, analysis_id) - started
        print(f"\nkilled with its message lost: ended {seconds:.1f} s after its attempt began")
        assert LEASE - 1 <= seconds <= LEASE + RESTORE_SWEEP_SECONDS + RUN_SLACK_SECONDS
        counters = store.counters()
        assert counters["succeeded"] == 1 and counters["executions"] == 2
        assert store.job(analysis_id).attempts == 2  # type: ignore[union-attr]


def test_a_message_popped_and_never_delivered_is_sent_again_once() -> None:
    with running_redis() as server:
        env = limits_env(server.url)
        store = limits_store(server.url)
        with running_api(env) as api:
            sent = time.monotonic()  # no worker yet: both jobs wait in the queue
            lost_id, kept_id = submit_all(api, [astronaut_jpeg(31), astronaut_jpeg(32)])
            # a worker's BRPOP took the oldest message and its connection broke before the reply
            assert store.redis.rpop(ANALYZE_QUEUE) is not None
            with running_worker(env, 1, queues=ANALYZE_QUEUE):
                ended_at(api, kept_id)
                seconds = ended_at(api, lost_id) - sent
        print(f"\npopped and lost: ended {seconds:.1f} s after it was sent")
        assert LEASE - 1 <= seconds <= LEASE + RESTORE_SWEEP_SECONDS + RUN_SLACK_SECONDS
        counters = store.counters()
        assert counters["succeeded"] == 2 and counters["executions"] == 2


def test_a_second_message_for_a_running_job_starts_nothing(tmp_path: Path) -> None:
    # What the broker's restore or a sweeper would send: another message for the same job, taken
    # by another process while the first attempt is still running (and healthy). The first
    # attempt is held after its pipeline until the second message has been taken.
    hold = tmp_path / "hold"
    hold.touch()
    with running_redis() as server:
        env = service_env(server.url, **held_at("outcome", hold))
        store = store_for(server.url)
        with running_worker(env, 2, queues=ANALYZE_QUEUE), running_api(env) as api:
            wait_ready(api)
            [analysis_id] = submit_all(api, [astronaut_jpeg(39)])
            poll(lambda: status(store, analysis_id) == "running", 60, "the job to run")
            create_celery_app(Settings(redis_url=server.url)).send_task(
                ANALYZE_TASK, args=[analysis_id]
            )
            poll(lambda: taken_and_acked(store.redis), 30, "the second message to be taken", 0.01)
            assert status(store, analysis_id) == "running"  # so the first attempt held it
            hold.unlink()
            ended_at(api, analysis_id)
        counters = store.counters()
        assert counters["succeeded"] == 1 and counters["executions"] == 1


def taken_and_acked(client: redis.Redis) -> bool:
    """The queue is empty and at most one message (the running attempt's) is held by a worker."""
    return client.llen(ANALYZE_QUEUE) == 0 and client.hlen(UNACKED_KEYS[0]) <= 1


def test_an_attempt_holds_its_job_for_its_lease_against_other_attempts() -> None:
    with running_redis() as server:
        store = store_for(server.url)
        photo = astronaut_jpeg(38)
        analysis_id = analysis_id_for(photo)
        store.claim(analysis_id, len(photo), "pack", None, upload=UNWRITTEN)
        assert store.mark_running(analysis_id, "first")
        assert not store.mark_running(analysis_id, "second")
        assert store.mark_running(analysis_id, "first")  # its retry, or its redelivery
        job_key = store.analysis_key("job", analysis_id)
        store.redis.hset(job_key, "lease_until", "0")  # as if its host was lost a lease ago
        assert store.mark_running(analysis_id, "second")
        assert not store.mark_running(analysis_id, "first")
        assert store.counters()["executions"] == 3


def test_a_hard_limit_strike_ends_the_attempts_lease_and_only_its_own() -> None:
    # The worker's main process counts a strike when the hard limit kills a run; the job is due
    # for the sweeper at once, though its lease (renewed by a redelivery) may have had long to go.
    with running_redis() as server:
        store = store_for(server.url)
        photo = astronaut_jpeg(37)
        analysis_id = analysis_id_for(photo)
        store.claim(analysis_id, len(photo), "pack", None, upload=UNWRITTEN)
        assert store.mark_running(analysis_id, "first")
        assert store.take_due(ANALYZE_QUEUE, 10)[0] == []  # a healthy attempt holds it
        assert store.strike_hard_limit(analysis_id, "other") == 0  # not the attempt holding it
        assert store.strike_hard_limit(analysis_id, "first") == 1
        due, _ = store.take_due(ANALYZE_QUEUE, 10)
        assert [job.id for job in due] == [analysis_id]
        assert store.mark_running(analysis_id, "second")  # the message the sweeper sends


def test_a_job_taken_but_not_sent_is_due_again_at_the_next_sweep() -> None:
    # A sweeper took a due job, then its broker connection failed (at a partition's end the
    # worker's pooled producer had lost its connection): the job must not wait a lease more for
    # a message, since no other may come.
    with running_redis() as server:
        store = store_for(server.url)
        photo = astronaut_jpeg(39)
        analysis_id = analysis_id_for(photo)
        store.claim(analysis_id, len(photo), "pack", None, upload=UNWRITTEN)
        assert store.mark_running(analysis_id, "first")
        assert store.strike_hard_limit(analysis_id, "first") == 1  # due now
        broker_down = create_celery_app(Settings(redis_url=redis_url(free_port())))
        with pytest.raises(OperationalError):
            Sweeper(store, broker_down).sweep()
        assert store.redis.llen(ANALYZE_QUEUE) == 0
        sweeper = Sweeper(store, create_celery_app(Settings(redis_url=server.url)))
        assert sweeper.sweep() == [DueJob("", analysis_id)]
        assert store.redis.llen(ANALYZE_QUEUE) == 1
        assert sweeper.sweep() == []  # sent once


def test_jobs_waiting_in_the_queue_past_the_lease_are_not_sent_again() -> None:
    # No worker: three jobs wait, and one message is lost. Sweeping (here, in this process) sends
    # only the lost one, once the lease has passed, to the head of the queue; the two still
    # queued wait on, unsent.
    with running_redis() as server:
        env = limits_env(server.url)
        store = limits_store(server.url)
        with running_api(env) as api:
            ids = submit_all(api, [astronaut_jpeg(q) for q in (33, 34, 35)])
        assert store.redis.rpop(ANALYZE_QUEUE) is not None  # the oldest, ids[0]
        sweeper = Sweeper(store, create_celery_app(Settings(redis_url=server.url)))
        sent = poll(sweeper.sweep, LEASE + 10, "the lost job to be sent", every=0.5)
        assert sent == [DueJob("", ids[0])]
        assert store.redis.llen(ANALYZE_QUEUE) == 3
        head = json.loads(store.redis.lindex(ANALYZE_QUEUE, -1))  # what a worker pops next
        assert ids[0] in head["headers"]["argsrepr"]  # it was ahead of the others: it goes first
        assert sweeper.sweep() == []
        assert [status(store, i) for i in ids] == ["queued"] * 3


def test_jobs_leave_the_sweepers_indexes_when_they_end_or_are_deleted() -> None:
    with running_redis() as server:
        store = store_for(server.url)
        queued, running = store.key("sweep", "queued"), store.key("sweep", "running")
        photos = [astronaut_jpeg(q) for q in (36, 37)]
        ended, deleted = (analysis_id_for(photo) for photo in photos)
        for photo in photos:
            store.claim(analysis_id_for(photo), len(photo), "pack", None, upload=UNWRITTEN)
        assert store.redis.zcard(queued) == 2
        assert store.mark_running(ended, "attempt-1")
        assert store.redis.zcard(queued) == 1 and store.redis.zcard(running) == 1
        assert store.succeed(ended, {"faces": []}, UNWRITTEN)
        assert store.delete(deleted)
        assert store.redis.exists(queued, running) == 0
