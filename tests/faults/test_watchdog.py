"""A worker whose consumer dies exits, and one cut off from Redis resumes once Redis answers:
real worker processes on a throwaway redis-server."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from harness.images import astronaut_jpeg
from harness.receivers import Receiver
from harness.service import (
    assert_all_end_once,
    paused_at,
    poll,
    running_api,
    running_redis,
    running_worker,
    service_env,
    store_for,
    submit_all,
    wait_ready,
)
from shared.celery_app import ANALYZE_QUEUE, CALLBACK_QUEUE, CALLBACK_WORKER_POOL
from worker.watchdog import EXIT_STATUS, STALL_SECONDS

pytestmark = pytest.mark.integration

# The visibility timeout (the hard limit plus a margin) is how long a dead worker's job waits
# before it is handed out again.
HARD_LIMIT = "20"


def test_a_worker_whose_consumer_dies_exits_and_its_job_ends_once_elsewhere() -> None:
    # The injected fault ends the event loop as a corrupt pool message did, while a task is
    # paused for an hour: Celery's stop waits for that task (its hard limit was a timer of the
    # dead loop) and, without the watchdog, the process stays up with nothing consuming.
    with running_redis() as server:
        env = service_env(server.url, READFACE_TASK_HARD_TIME_LIMIT=HARD_LIMIT)
        broken = {**env, **paused_at("upload", 3600), "READFACE_TEST_BREAK_CONSUMER": "1"}
        with running_api(env) as api:
            with running_worker(broken) as worker:
                wait_ready(api)
                [analysis_id] = submit_all(api, [astronaut_jpeg(quality=64)])
                poll(lambda: worker.poll() is not None, 60, "the broken worker to exit")
                assert worker.returncode == EXIT_STATUS
            with running_worker(env):
                assert_all_end_once(api, [analysis_id], server.url)


def test_a_worker_cut_off_from_a_frozen_redis_resumes_by_itself() -> None:
    # SIGSTOP freezes Redis with its connections open, as a partition without a reset does, for
    # longer than the analysis limit and the watchdog's stall limit; a job is in flight then.
    with running_redis() as server:
        env = service_env(
            server.url,
            READFACE_TASK_SOFT_TIME_LIMIT="5",
            READFACE_TASK_HARD_TIME_LIMIT=HARD_LIMIT,
            **paused_at("detect", 3),
        )
        with running_worker(env) as worker, running_api(env) as api:
            wait_ready(api)
            store = store_for(server.url)
            [in_flight] = submit_all(api, [astronaut_jpeg(quality=65)])
            poll(lambda: (job := store.job(in_flight)) and job.status == "running", 60, "a start")
            assert server.process is not None
            os.kill(server.process.pid, signal.SIGSTOP)
            try:
                time.sleep(STALL_SECONDS + 10)  # the partition's length, not a wait for anything
            finally:
                os.kill(server.process.pid, signal.SIGCONT)
            later = submit_all(api, [astronaut_jpeg(quality=q) for q in (66, 67)])
            assert_all_end_once(api, [in_flight, *later], server.url)
            assert worker.poll() is None  # the same worker, not a replacement


def test_a_worker_whose_acknowledgement_failed_takes_work_again(tmp_path: Path) -> None:
    # The first job's message is not acknowledged: the acknowledgement fails, as it does when
    # Redis stops answering just then. The message still counts against the worker's prefetch of
    # one, with no task holding it: the worker would take nothing more while its loop ticks on.
    trigger = tmp_path / "fail-ack"
    trigger.touch()
    with running_redis() as server:
        env = service_env(server.url, READFACE_TEST_FAULTS="1", READFACE_TEST_FAIL_ACK=str(trigger))
        with running_worker(env) as worker, running_api(env) as api:
            wait_ready(api)
            [first] = submit_all(api, [astronaut_jpeg(quality=68)])
            poll(lambda: not trigger.exists(), 60, "the first acknowledgement to fail")
            later = submit_all(api, [astronaut_jpeg(quality=q) for q in (69, 70)])
            assert_all_end_once(api, [first, *later], server.url)
            assert worker.poll() is None  # the same worker, not a replacement


def test_a_callbacks_worker_whose_acknowledgement_failed_delivers_again(tmp_path: Path) -> None:
    # One thread, so the message stranded by the first delivery's failed acknowledgement would
    # hold back every later delivery: the callbacks worker needs the same check.
    trigger = tmp_path / "fail-ack"
    trigger.touch()
    receiver = Receiver([])
    with running_redis() as server:
        env = service_env(server.url, READFACE_CALLBACK_ALLOW_PRIVATE="1")
        faulty = {**env, "READFACE_TEST_FAULTS": "1", "READFACE_TEST_FAIL_ACK": str(trigger)}
        with (
            running_worker(env, queues=ANALYZE_QUEUE),
            running_worker(faulty, queues=CALLBACK_QUEUE, pool=CALLBACK_WORKER_POOL) as callbacks,
            running_api(env) as api,
        ):
            wait_ready(api)
            [first] = submit_all(api, [astronaut_jpeg(quality=71)], callback_url=receiver.url)
            poll(lambda: not trigger.exists(), 60, "the first acknowledgement to fail")
            [second] = submit_all(api, [astronaut_jpeg(quality=72)], callback_url=receiver.url)
            webhook_ids: dict[str, set[str]] = {}

            def both_delivered() -> bool:
                for headers, body in list(receiver.deliveries):
                    webhook_ids.setdefault(json.loads(body)["id"], set()).add(headers["webhook-id"])
                return webhook_ids.keys() == {first, second}

            poll(both_delivered, 60, "both analyses' callbacks")
            assert callbacks.poll() is None  # the same worker, not a replacement
    # sent again after the reconnection (its acknowledgement failed): as the same message
    assert len(webhook_ids[first]) == 1
