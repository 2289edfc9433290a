"""Fair dispatch under faults: a message is a ticket that may start another client's job than the
one it names (shared/store/dispatch.py), so what Celery does with the message after its attempt
began (hand it out again, end it as failed) must act on the job the attempt started.

Both tests queue, before any worker runs, alice's two jobs and then bob's one: the first ticket
starts alice's first job, the second (naming alice's second) starts bob's, the hard one."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests

from harness.images import astronaut_jpeg, slow_png
from harness.service import (
    Api,
    child_pids,
    poll,
    running_api,
    running_redis,
    running_worker,
    service_env,
    store_for,
)
from shared.store import Store

pytestmark = pytest.mark.integration


def as_address(api: Api, address: str) -> Api:
    session = requests.Session()
    session.headers["X-Forwarded-For"] = address
    return Api(api.url, api.process, session)


@contextmanager
def alice_then_bob(**settings: str) -> Iterator[tuple[Api, Store, list[str], str, int]]:
    """An API behind one proxy hop and no worker yet; alice's two photos, then bob's slow PNG."""
    with running_redis() as server:
        env = service_env(server.url, READFACE_PROXY_HOPS="1", **settings)
        with running_api(env) as api:
            alice, bob = as_address(api, "192.0.2.1"), as_address(api, "192.0.2.2")
            alice_ids = [alice.submit(astronaut_jpeg(q)).json()["id"] for q in (81, 82)]
            bob_id = bob.submit(slow_png(21)).json()["id"]
            with running_worker(env, 1) as worker:
                yield api, store_for(server.url), alice_ids, bob_id, worker.pid


def attempts(store: Store, analysis_id: str) -> int:
    job = store.job(analysis_id)
    assert job is not None
    return job.attempts


def test_a_ticket_handed_out_again_runs_the_job_its_attempt_started() -> None:
    with alice_then_bob() as (api, store, alice_ids, bob_id, worker):
        poll(lambda: attempts(store, bob_id) == 1, 120, "bob's job to start")
        [child] = child_pids(worker)
        os.kill(child, signal.SIGKILL)
        for analysis_id in [*alice_ids, bob_id]:
            assert api.wait_done(analysis_id, timeout=120)["status"] == "succeeded"
        assert attempts(store, bob_id) == 2  # killed once, run again by the same ticket
        assert [attempts(store, i) for i in alice_ids] == [1, 1]


def test_the_hard_limit_ends_the_job_its_attempt_started() -> None:
    # The hard limit kills the process decoding bob's 16 MP PNG (one C call of a second or two),
    # twice (the first strike leaves the job to its lease: worker/failures.py); the worker's main
    # process, which counts the strikes and ends the job, knows only the ticket's arguments.
    with alice_then_bob(
        READFACE_TASK_SOFT_TIME_LIMIT="0.05", READFACE_TASK_HARD_TIME_LIMIT="0.1"
    ) as (api, store, alice_ids, bob_id, _):
        bob = api.wait_done(bob_id, timeout=120)
        assert bob["status"] == "failed" and bob["error"]["code"] == "timeout", bob
        assert attempts(store, bob_id) == 2
        for analysis_id in alice_ids:  # a portrait may reach a limit too: either way its own
            api.wait_done(analysis_id, timeout=120)  # attempts ended it, not bob's
