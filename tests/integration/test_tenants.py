"""API keys as tenants, over real HTTP: ids, dedup, results, callbacks, DELETE and limits are
each tenant's own, and no key is ever written to Redis in clear."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest
import redis
import requests
from standardwebhooks import Webhook

from harness.images import QUOTA, astronaut_jpeg
from harness.receivers import Receiver
from harness.service import (
    WEBHOOK_SECRET,
    Api,
    assert_error,
    poll,
    running_api,
    running_redis,
    service_env,
)

pytestmark = pytest.mark.integration

ALICE_KEY = "alice-key-Vx7Qm2pLk9Rt4Wz8"
ALICE_SECOND_KEY = "alice-key-rotated-Hs3Jd6Nf1Bc5"
BOB_KEY = "bob-key-Pq8Tn2Gm5Yw7Ke4"
BARE_KEY = "bare-key-Zr6Ua9Xc3Ld1Fv2"
TENANT_KEYS = f"alice:{ALICE_KEY},alice:{ALICE_SECOND_KEY},bob:{BOB_KEY},{BARE_KEY}"
RATE_LIMIT = 5


def as_tenant(api: Api, key: str) -> Api:
    """The same API, called with one key on every request (its own session)."""
    session = requests.Session()
    session.headers["X-API-Key"] = key
    return Api(api.url, api.process, session)


@pytest.fixture(scope="module")
def tenant_api(redis_url: str, worker: None) -> Iterator[Api]:
    env = service_env(
        redis_url,
        READFACE_API_KEYS=TENANT_KEYS,
        READFACE_CALLBACK_ALLOW_PRIVATE="1",
        READFACE_RATE_LIMIT_PER_MINUTE="100000",
    )
    with running_api(env) as api:
        yield api


@pytest.fixture()
def alice(tenant_api: Api) -> Api:
    return as_tenant(tenant_api, ALICE_KEY)


@pytest.fixture()
def bob(tenant_api: Api) -> Api:
    return as_tenant(tenant_api, BOB_KEY)


@pytest.fixture(scope="module")
def limited_api() -> Iterator[Api]:
    """An API with a low rate limit and a queued-bytes quota of 1.5 uploads, on its own Redis
    with no worker, so that uploads stay queued and no other test shares its counters."""
    with running_redis() as server:
        env = service_env(
            server.url,
            READFACE_API_KEYS=TENANT_KEYS,
            READFACE_RATE_LIMIT_PER_MINUTE=str(RATE_LIMIT),
            READFACE_MAX_QUEUED_BYTES_PER_CLIENT=str(QUOTA),
        )
        with running_api(env) as api:
            yield api


@pytest.fixture()
def receivers() -> Iterator[Callable[[], Receiver]]:
    started: list[Receiver] = []

    def start() -> Receiver:
        started.append(receiver := Receiver([]))
        return receiver

    yield start
    for receiver in started:
        receiver.server.shutdown()


def test_the_same_bytes_from_another_tenant_are_a_new_job(alice: Api, bob: Api) -> None:
    photo = astronaut_jpeg(quality=61)
    first = alice.submit(photo).json()
    assert alice.wait_done(first["id"])["status"] == "succeeded"
    second = bob.submit(photo)
    assert second.status_code == 202, second.text
    assert second.json()["id"] == first["id"]  # the id is still the hash of the bytes
    assert bob.wait_done(first["id"])["status"] == "succeeded"


def test_the_same_tenant_keeps_its_dedup_across_its_keys(tenant_api: Api, alice: Api) -> None:
    photo = astronaut_jpeg(quality=62)
    alice.wait_done(alice.submit(photo).json()["id"])
    again = as_tenant(tenant_api, ALICE_SECOND_KEY).submit(photo)
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "succeeded"


def test_another_tenant_cannot_read_the_analysis_or_its_image(alice: Api, bob: Api) -> None:
    analysis_id = alice.submit(astronaut_jpeg(quality=63)).json()["id"]
    alice.wait_done(analysis_id)
    assert_error(bob.get(f"/v1/analyses/{analysis_id}"), 404, "not_found")
    assert_error(bob.get(f"/v1/analyses/{analysis_id}", params={"wait": 1}), 404, "not_found")
    assert_error(bob.get(f"/v1/analyses/{analysis_id}/annotated"), 404, "not_found")
    assert alice.get(f"/v1/analyses/{analysis_id}/annotated").status_code == 200


def test_another_tenant_cannot_delete_the_analysis(alice: Api, bob: Api) -> None:
    analysis_id = alice.submit(astronaut_jpeg(quality=64)).json()["id"]
    alice.wait_done(analysis_id)
    assert_error(bob.delete(f"/v1/analyses/{analysis_id}"), 404, "not_found")
    assert alice.get(f"/v1/analyses/{analysis_id}").json()["status"] == "succeeded"


def test_deleting_ones_own_copy_leaves_the_other_tenants(alice: Api, bob: Api) -> None:
    photo = astronaut_jpeg(quality=65)
    analysis_id = alice.submit(photo).json()["id"]
    bob.submit(photo)
    alice.wait_done(analysis_id)
    bob.wait_done(analysis_id)
    assert bob.delete(f"/v1/analyses/{analysis_id}").status_code == 204
    assert_error(bob.get(f"/v1/analyses/{analysis_id}"), 404, "not_found")
    assert alice.get(f"/v1/analyses/{analysis_id}").json()["status"] == "succeeded"


def test_each_tenants_callback_carries_its_own_analysis(
    alice: Api, bob: Api, receivers: Callable[[], Receiver]
) -> None:
    photo = astronaut_jpeg(quality=66)
    for tenant in (alice, bob):  # one after the other: the two jobs' created_at differ
        receiver = receivers()
        submitted = tenant.submit(photo, callback_url=receiver.url).json()
        poll(lambda: receiver.deliveries, 60, "the tenant's callback")  # noqa: B023
        headers, body = receiver.deliveries[0]
        payload = Webhook(WEBHOOK_SECRET).verify(body, headers)
        assert payload["status"] == "succeeded"
        assert payload["created_at"] == submitted["created_at"]


def test_a_tenants_dedup_hit_still_delivers_its_callback(
    alice: Api, receivers: Callable[[], Receiver]
) -> None:
    photo = astronaut_jpeg(quality=67)
    alice.wait_done(alice.submit(photo).json()["id"])
    receiver = receivers()
    assert alice.submit(photo, callback_url=receiver.url).status_code == 200
    poll(lambda: receiver.deliveries, 60, "the callback of a dedup hit")
    assert json.loads(receiver.deliveries[0][1])["status"] == "succeeded"


def in_one_rate_window(check: Callable[[], None]) -> None:
    """Run a check of fixed one-minute windows again if a window ended while it ran (it takes
    far less than a minute, so the second run lies within one window)."""
    window = int(time.time() // 60)
    check()
    if int(time.time() // 60) != window:
        check()


def test_the_rate_limit_counts_per_tenant_across_its_keys(limited_api: Api) -> None:
    alice_first = as_tenant(limited_api, ALICE_KEY)
    alice_second = as_tenant(limited_api, ALICE_SECOND_KEY)
    bob = as_tenant(limited_api, BOB_KEY)
    unknown = "/v1/analyses/" + "c" * 64

    def check() -> None:
        poll(lambda: alice_first.get(unknown).status_code == 429, 5, "alice's limit", every=0)
        assert_error(alice_second.get(unknown), 429, "rate_limited")
        assert_error(bob.get(unknown), 404, "not_found")

    in_one_rate_window(check)


def test_queued_bytes_count_per_tenant(limited_api: Api) -> None:
    bare = as_tenant(limited_api, BARE_KEY)
    assert bare.submit(astronaut_jpeg(quality=90)).status_code == 202
    assert_error(bare.submit(astronaut_jpeg(quality=91)), 429, "rate_limited")
    bob = as_tenant(limited_api, BOB_KEY)
    assert bob.submit(astronaut_jpeg(quality=91)).status_code == 202


def test_bare_keys_of_the_old_form_are_tenants_of_their_own(strict_api: Api) -> None:
    one, two = as_tenant(strict_api, "k-one"), as_tenant(strict_api, "k-two")
    photo = astronaut_jpeg(quality=68)
    analysis_id = one.submit(photo).json()["id"]
    one.wait_done(analysis_id)
    assert two.submit(photo).status_code == 202
    assert one.submit(photo).status_code == 200


# The command that reads the whole value of a key, by the key's type (streams are not used).
READ_WHOLE: dict[bytes, tuple[str | int, ...]] = {
    b"string": ("GET",),
    b"hash": ("HGETALL",),
    b"list": ("LRANGE", 0, -1),
    b"set": ("SMEMBERS",),
    b"zset": ("ZRANGE", 0, -1),
}


def stored_bytes(client: redis.Redis) -> Iterator[bytes]:
    """Every key name and value in Redis, with Celery's base64 message bodies decoded."""
    for key in client.scan_iter(count=500):
        yield key
        # None when the key expired since the scan
        command = READ_WHOLE.get(cast(bytes, client.type(key)))
        reply: Any = client.execute_command(command[0], key, *command[1:]) if command else None
        if isinstance(reply, dict):
            values = [*reply.keys(), *reply.values()]
        else:
            values = [reply] if isinstance(reply, bytes) else list(reply or [])
        for value in values:
            yield value
            yield from _message_bodies(value)


def _message_bodies(value: bytes) -> Iterator[bytes]:
    try:
        message = json.loads(value)
    except ValueError:
        return
    # unacked messages are stored as [message, exchange, routing key]
    for item in message if isinstance(message, list) else [message]:
        if isinstance(item, dict) and isinstance(item.get("body"), str):
            yield base64.b64decode(item["body"])


def test_no_api_key_is_written_to_redis_in_clear(
    tenant_api: Api, redis_url: str, receivers: Callable[[], Receiver]
) -> None:
    client = redis.Redis.from_url(redis_url)
    keys = [k.encode() for k in (ALICE_KEY, ALICE_SECOND_KEY, BOB_KEY, BARE_KEY)]
    photo = astronaut_jpeg(quality=69)
    receiver = receivers()
    ids = [
        as_tenant(tenant_api, key.decode()).submit(photo, callback_url=receiver.url).json()["id"]
        for key in keys
    ]
    snapshots = [list(stored_bytes(client))]  # while jobs and messages are queued
    for key, analysis_id in zip(keys, ids, strict=True):
        as_tenant(tenant_api, key.decode()).wait_done(analysis_id)
    poll(lambda: len(receiver.deliveries) >= len(keys), 60, "every tenant's callback")
    snapshots.append(list(stored_bytes(client)))
    assert any(b"tenant:alice:job:" in item for item in snapshots[1])  # the scan sees the jobs
    for snapshot in snapshots:
        assert not [key for key in keys for item in snapshot if key in item]
