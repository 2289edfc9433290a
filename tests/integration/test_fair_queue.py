"""Fair queueing across clients (issue 26): one client's queued work delays another's single photo
by the jobs already running and nothing more, with API keys (per tenant) and without (per
address), and a client's quota counts work, so tiny files cannot queue without limit.

Fairness is checked on order, not on time: a job records the executions counter when it was
claimed and as it started, and every job started in between overtook it."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import requests

from harness.images import astronaut_jpegs, encode
from harness.service import (
    UNWRITTEN,
    Api,
    assert_error,
    poll,
    running_api,
    running_redis,
    running_worker,
    service_env,
    store_for,
)
from shared.store import Store
from shared.work_quota import MIN_JOB_COST

pytestmark = pytest.mark.integration

FLOOD = 200
ALICE_KEY, BOB_KEY = "alice-key-Fq2Lm8Rt5Wz1", "bob-key-Hc7Pn3Xv6Kd4"


@pytest.fixture()
def store() -> Iterator[Store]:
    with running_redis() as server:
        yield store_for(server.url)


def claim(store: Store, client: str, name: str) -> str:
    """Claim a new job of `client`, as the API does once its blob is written; its id."""
    analysis_id = name.encode().hex().ljust(64, "0")
    outcome = store.claim(analysis_id, 1000, "fp", None, client, UNWRITTEN).outcome
    assert outcome == "claimed"
    return analysis_id


def started(store: Store, attempt: str) -> str | None:
    """Take a message, as a worker does: the id of the job it started."""
    run = store.dispatch("0" * 64, "", attempt)
    return run.job.id if run else None


def test_a_client_with_nothing_waiting_is_started_next(store: Store) -> None:
    alice = [claim(store, "10.0.0.1", f"alice{n}") for n in range(5)]
    assert started(store, "t1") == alice[0]
    bob = claim(store, "10.0.0.2", "bob")
    assert [started(store, f"t{n}") for n in range(2, 7)] == [bob, *alice[1:]]


def test_clients_with_jobs_waiting_take_turns(store: Store) -> None:
    alice = [claim(store, "tenant:alice", f"alice{n}") for n in range(3)]
    carol = [claim(store, "tenant:carol", f"carol{n}") for n in range(3)]
    order = [started(store, f"t{n}") for n in range(6)]
    assert order == [alice[0], carol[0], alice[1], carol[1], alice[2], carol[2]]
    assert started(store, "t6") is None  # no job waits, and the message's own is unknown


def test_every_key_of_the_fair_queues_expires(store: Store) -> None:
    for n in range(3):
        claim(store, "tenant:alice", f"alice{n}")
    started(store, "t1")
    keys = [k for k in store.scan_keys() if b":fair:" in k or b":attempt:" in k]
    assert len(keys) == 4  # turns, served, alice's queue, the attempt
    assert all(store.redis.ttl(key) > 0 for key in keys)


def test_a_message_taken_again_runs_the_job_its_attempt_started(store: Store) -> None:
    first, second = claim(store, "c", "first"), claim(store, "c", "second")
    assert started(store, "attempt") == first
    assert started(store, "attempt") == first  # a retry, or a redelivery: never a second job
    assert started(store, "another") == second
    assert store.attempt_job("attempt").id == first  # type: ignore[union-attr]


def test_a_job_whose_attempt_was_lost_goes_back_to_the_head_of_its_clients_queue(
    store: Store,
) -> None:
    lost, waiting = claim(store, "c", "lost"), claim(store, "c", "waiting")
    assert started(store, "gone") == lost
    # its host was lost a lease ago
    job_key = store.analysis_key("job", lost)
    store.redis.hset(job_key, "lease_until", "0")
    store.redis.zadd(store.key("sweep", "running"), {job_key: 0})
    due, _ = store.take_due("analyze", 10)
    assert [job.id for job in due] == [lost]
    assert [started(store, "t2"), started(store, "t3")] == [lost, waiting]
    assert store.job(lost).attempts == 2  # type: ignore[union-attr]


def test_jobs_that_ended_or_were_deleted_while_waiting_are_passed_over(store: Store) -> None:
    deleted, ended, waiting = (claim(store, "c", name) for name in ("deleted", "ended", "waits"))
    assert store.delete(deleted)
    assert store.succeed(ended, {"faces": []}, UNWRITTEN)
    assert started(store, "t1") == waiting
    assert store.counters()["executions"] == 1


def tiny_images(count: int) -> list[bytes]:
    """Distinct 1x1 PNGs of about 70 bytes each."""
    pixels = (np.full((1, 1, 3), (n % 256, n // 256, 7), dtype=np.uint8) for n in range(count))
    return [encode(pixel, "PNG") for pixel in pixels]


def test_tiny_files_fill_the_quota_by_their_count() -> None:
    quota = 3 * MIN_JOB_COST
    with running_redis() as server:
        env = service_env(server.url, READFACE_MAX_QUEUED_BYTES_PER_CLIENT=str(quota))
        with running_api(env) as api:  # no worker: every job stays queued
            responses = [api.submit(image) for image in tiny_images(4)]
            assert [response.status_code for response in responses[:3]] == [202] * 3
            assert_error(responses[3], 429, "rate_limited")


def fairness_env(redis_url: str, keys: bool) -> dict[str, str]:
    settings = {"READFACE_RATE_LIMIT_PER_MINUTE": "100000"}
    if keys:
        settings["READFACE_API_KEYS"] = f"alice:{ALICE_KEY},bob:{BOB_KEY}"
    else:
        settings["READFACE_PROXY_HOPS"] = "1"  # clients told apart by X-Forwarded-For
    return service_env(redis_url, **settings)


def client(api: Api, keys: bool, key: str, address: str) -> Api:
    session = requests.Session()
    session.headers.update({"X-API-Key": key} if keys else {"X-Forwarded-For": address})
    return Api(api.url, api.process, session)


@pytest.mark.parametrize("keys", [True, False], ids=["per tenant", "per address"])
@pytest.mark.parametrize("processes", [1, 2])
def test_a_flood_of_one_client_does_not_delay_another_clients_photo(
    processes: int, keys: bool
) -> None:
    photos = astronaut_jpegs(FLOOD + 1)
    with running_redis() as server:
        env = fairness_env(server.url, keys)
        store = store_for(server.url)
        with running_api(env) as api:  # no worker yet
            alice = client(api, keys, ALICE_KEY, "192.0.2.1")
            bob = client(api, keys, BOB_KEY, "192.0.2.2")
            # The whole flood is queued before a worker runs, and bob's photo comes once her
            # jobs have started: however slow the uploads, the flood is still running then.
            for photo in photos[:FLOOD]:
                assert alice.submit(photo).status_code == 202
            with running_worker(env, processes):
                poll(lambda: store.counters()["executions"] > processes, 120, "her jobs to start")
                bob_id = bob.submit(photos[FLOOD]).json()["id"]
                assert bob.wait_done(bob_id, timeout=120)["status"] == "succeeded"
            job = store.redis.hgetall(store.analysis_key("job", bob_id, "bob" if keys else ""))
    claimed_after, started_as = int(job[b"executions_at_claim"]), int(job[b"execution"])
    assert FLOOD - claimed_after > processes, "alice's flood ended before bob's photo came"
    # Once alice has had a turn, bob's job is the next one started; if none had started yet,
    # her first job, which came before his, has its turn first.
    assert started_as - claimed_after - 1 <= (0 if claimed_after else 1)
