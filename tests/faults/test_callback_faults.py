"""Callback receivers that are down, slow or answer 500: analysis is unaffected, delivery is
retried and ends, and a receiver that answered 2xx gets the message once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from shared.celery_app import CALLBACK_QUEUE
from shared.launcher import free_port
from tests.images import astronaut_jpeg
from tests.integration.test_callbacks import Receiver
from tests.service import Api, poll, running_api, running_redis, running_worker, service_env
from tests.service import wait_ready as wait_for_worker

pytestmark = pytest.mark.integration
ATTEMPTS = 3


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[Api, str]]:
    with running_redis() as server:
        env = service_env(
            server.url,
            READFACE_CALLBACK_ALLOW_PRIVATE="1",
            READFACE_CALLBACK_BACKOFF="0.1",
            READFACE_CALLBACK_TIMEOUT="0.5",
            READFACE_CALLBACK_MAX_ATTEMPTS=str(ATTEMPTS),
        )
        with running_worker(env, concurrency=2), running_api(env) as api:
            wait_for_worker(api)
            yield api, server.url


def deliveries_settled(redis_url: str) -> bool:
    """No callback waiting in the queue and none held by a worker (retries wait unacked)."""
    client = redis.Redis.from_url(redis_url)
    return client.llen(CALLBACK_QUEUE) == 0 and client.hlen("unacked") == 0


def test_receiver_down_does_not_hold_up_the_analysis(stack: tuple[Api, str]) -> None:
    api, redis_url = stack
    closed = f"http://127.0.0.1:{free_port()}/hook"
    analysis_id = api.submit(astronaut_jpeg(quality=31), callback_url=closed).json()["id"]
    assert api.wait_done(analysis_id)["status"] == "succeeded"
    poll(lambda: deliveries_settled(redis_url), 60, "delivery attempts to end")


def test_slow_receiver_is_retried_then_given_up(stack: tuple[Api, str]) -> None:
    api, redis_url = stack
    receiver = Receiver([], delay=3.0)
    try:
        analysis_id = api.submit(astronaut_jpeg(quality=32), callback_url=receiver.url).json()["id"]
        assert api.wait_done(analysis_id)["status"] == "succeeded"
        poll(lambda: len(receiver.deliveries) >= ATTEMPTS, 60, "every attempt")
        poll(lambda: deliveries_settled(redis_url), 60, "delivery attempts to end")
        assert len(receiver.deliveries) == ATTEMPTS
        assert len({headers["webhook-id"] for headers, _ in receiver.deliveries}) == 1
    finally:
        receiver.answered.set()
        receiver.server.shutdown()


def test_receiver_answering_500_then_200_gets_no_duplicate(stack: tuple[Api, str]) -> None:
    api, redis_url = stack
    receiver = Receiver([500])
    try:
        api.submit(astronaut_jpeg(quality=33), callback_url=receiver.url)
        poll(lambda: len(receiver.deliveries) >= 2, 60, "the retry")
        poll(lambda: deliveries_settled(redis_url), 60, "delivery to end")
        assert len(receiver.deliveries) == 2  # one 500, one 200, nothing after the 2xx
    finally:
        receiver.server.shutdown()
