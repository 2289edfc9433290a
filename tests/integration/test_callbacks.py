"""Signed webhook callbacks delivered to a real local HTTP receiver, with retries."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from standardwebhooks import Webhook

from harness.images import astronaut_jpeg
from harness.receivers import Receiver
from harness.service import WEBHOOK_SECRET, Api, poll

pytestmark = pytest.mark.integration


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    yield (receiver := Receiver([]))
    receiver.server.shutdown()


def test_callback_is_delivered_with_a_valid_signature(api: Api, receiver: Receiver) -> None:
    analysis_id = api.submit(astronaut_jpeg(quality=81), callback_url=receiver.url).json()["id"]
    poll(lambda: receiver.deliveries, 60, "the callback")
    headers, body = receiver.deliveries[0]
    payload = Webhook(WEBHOOK_SECRET).verify(body, headers)
    assert payload["id"] == analysis_id and payload["status"] == "succeeded"
    assert payload["result"]["faces"][0]["gender"]["label"] == "female"


def test_callback_is_retried_after_two_500s_with_the_same_id(api: Api, receiver: Receiver) -> None:
    receiver.statuses = [500, 500]
    api.submit(astronaut_jpeg(quality=82), callback_url=receiver.url)
    poll(lambda: len(receiver.deliveries) >= 3, 60, "three delivery attempts")
    ids = {headers["webhook-id"] for headers, _ in receiver.deliveries}
    assert len(ids) == 1
    for headers, body in receiver.deliveries:
        Webhook(WEBHOOK_SECRET).verify(body, headers)


def test_dedup_hit_still_delivers_the_callback(api: Api, receiver: Receiver) -> None:
    data = astronaut_jpeg(quality=83)
    api.wait_done(api.submit(data).json()["id"])
    response = api.submit(data, callback_url=receiver.url)
    assert response.status_code == 200
    poll(lambda: receiver.deliveries, 60, "the callback of a dedup hit")
    assert json.loads(receiver.deliveries[0][1])["status"] == "succeeded"


def test_failed_analysis_is_delivered_too(api: Api, receiver: Receiver) -> None:
    data = astronaut_jpeg(quality=84)
    api.submit(data[: len(data) // 2], callback_url=receiver.url)
    poll(lambda: receiver.deliveries, 60, "the callback of a failure")
    payload = json.loads(receiver.deliveries[0][1])
    assert payload["status"] == "failed" and payload["error"]["code"] == "invalid_image"
