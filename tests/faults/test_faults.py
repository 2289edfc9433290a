"""Faults against real processes: every accepted job still ends, once, and can be fetched.

Each test builds its own small stack (redis-server, worker, API) so a fault never leaks into
another test.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from harness.images import astronaut_jpeg, slow_png
from harness.service import (
    Api,
    assert_all_end_once,
    child_pids,
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
from shared.store import Store

pytestmark = pytest.mark.integration


def test_worker_child_killed_mid_task_is_redelivered_and_finished(tmp_path: Path) -> None:
    with running_redis() as server:
        env = service_env(server.url)
        with running_worker(env, concurrency=1) as worker, running_api(env) as api:
            wait_ready(api)
            store = store_for(server.url)
            [analysis_id] = submit_all(api, [slow_png(1)])
            poll(
                lambda: (job := store.job(analysis_id)) and job.status == "running",
                60,
                "the task to start",
            )
            [child] = child_pids(worker.pid)
            os.kill(child, signal.SIGKILL)
            assert api.wait_done(analysis_id, timeout=120)["status"] == "succeeded"
            job = store.job(analysis_id)
            assert job is not None and job.attempts == 2  # killed once, run again
            assert api.get(f"/v1/analyses/{analysis_id}/annotated").status_code == 200


def test_jobs_queued_while_no_worker_runs_survive_and_run() -> None:
    with running_redis() as server:
        env = service_env(server.url)
        with running_api(env) as api:
            ids = submit_all(api, [astronaut_jpeg(quality=q) for q in (40, 41, 42, 43)])
            assert all(api.get(f"/v1/analyses/{i}").json()["status"] == "queued" for i in ids)
            with running_worker(env, concurrency=2):
                assert_all_end_once(api, ids, server.url)
            assert store_for(server.url).counters()["executions"] == len(ids)


def test_redis_restart_keeps_queued_jobs(tmp_path: Path) -> None:
    with running_redis(tmp_path / "redis") as server:
        env = service_env(server.url)
        with running_api(env) as api:
            ids = submit_all(api, [astronaut_jpeg(quality=q) for q in (50, 51, 52)])
            server.stop()  # SIGTERM: Redis flushes its append-only file on the way down
            server.start()
            with running_worker(env, concurrency=2):
                assert_all_end_once(api, ids, server.url)


def test_redis_restart_while_a_worker_runs() -> None:
    with running_redis(Path(os.environ.get("TMPDIR", "/tmp")) / f"rf-{os.getpid()}") as server:
        env = service_env(server.url)
        with running_worker(env, concurrency=2), running_api(env) as api:
            wait_ready(api)
            ids = submit_all(api, [slow_png(2), astronaut_jpeg(quality=60)])
            server.stop()
            server.start()
            assert_all_end_once(api, ids, server.url)


@contextmanager
def one_worker_paused(
    stage: str, soft: str, hard: str, run: int | None = None
) -> Iterator[tuple[Api, Store]]:
    """A stack of its own: Redis, one worker process with these time limits that pauses an hour
    at `stage` (in the job's run `run` only, if given; worker/fault_injection.py), the API, and
    the store the stack's jobs are in."""
    with running_redis() as server:
        env = service_env(
            server.url,
            READFACE_TASK_SOFT_TIME_LIMIT=soft,
            READFACE_TASK_HARD_TIME_LIMIT=hard,
            **paused_at(stage, 3600, run),
        )
        with running_worker(env, concurrency=1), running_api(env) as api:
            wait_ready(api)
            yield api, store_for(server.url)


def attempts(store: Store, analysis_id: str) -> int:
    job = store.job(analysis_id)
    assert job is not None
    return job.attempts


def test_hard_time_limit_ends_the_job_as_timeout_on_its_second_strike() -> None:
    # The pause is before the pipeline, where only Celery's hard limit is armed: the pool
    # process is killed, the job runs again after its lease (hard limit + 15 s), is killed
    # again, and the main process ends it.
    with one_worker_paused("upload", soft="1", hard="3") as (api, store):
        hang = astronaut_jpeg(quality=62)
        [slow] = submit_all(api, [hang])
        ended = api.wait_done(slow, timeout=120)
        assert ended["status"] == "failed" and ended["error"]["code"] == "timeout"
        assert ended["error"]["message"] == "The analysis took longer than 3 seconds."
        assert attempts(store, slow) == 2
        # a new pool process takes the next job (and is killed in turn at the same pause)
        [next_one] = submit_all(api, [astronaut_jpeg(quality=61)])
        after = api.wait_done(next_one, timeout=120)
        assert after["status"] == "failed" and after["error"]["code"] == "timeout", after
        # timeout is transient: the same bytes are queued again
        assert api.submit(hang).status_code == 202


def test_a_run_the_hard_limit_killed_after_its_pipeline_runs_again_and_succeeds() -> None:
    # As in a partition from Redis: the first run has its result but cannot write it, and the
    # main process strikes the hard limit (it may not have heard the run end). The job is not
    # failed: it runs again after its lease, and the second run (not paused) succeeds.
    with one_worker_paused("outcome", soft="1", hard="3", run=1) as (api, store):
        [analysis_id] = submit_all(api, [astronaut_jpeg(quality=64)])
        ended = api.wait_done(analysis_id, timeout=120)
        assert ended["status"] == "succeeded", ended
        assert attempts(store, analysis_id) == 2


def test_a_decode_the_time_limit_strikes_in_fails_the_bytes_for_good() -> None:
    # The limit strikes inside the decoder (when its call returns, for a real decode): the
    # bytes themselves are too costly, so the failure is permanent.
    with one_worker_paused("decode", soft="1", hard="60") as (api, _):
        costly = astronaut_jpeg(quality=63)
        [analysis_id] = submit_all(api, [costly])
        ended = api.wait_done(analysis_id, timeout=60)
        assert ended["status"] == "failed" and ended["error"]["code"] == "invalid_image"
        again = api.submit(costly)
        assert again.status_code == 200 and again.json()["status"] == "failed"
