"""Callback receivers that are down, slow, dripping or answer 500: analysis is unaffected,
delivery is retried and ends, and a receiver that answered 2xx gets the message once. The
workers are split as `readface up` starts them: one analysis process, callbacks on threads."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from cli.processes import free_port, stop
from harness.dns import SilentDns, can_fake_dns, silent_dns, start_api_with_resolv_conf
from harness.images import astronaut_jpeg
from harness.receivers import DRIP_SECONDS, DrippingReceiver, Receiver
from harness.service import (
    Api,
    deliveries_settled,
    poll,
    running_api,
    running_redis,
    running_split_workers,
    service_env,
)
from harness.service import wait_ready as wait_for_worker
from shared.callbacks.addresses import DNS_MAX_LOOKUPS

pytestmark = pytest.mark.integration
ATTEMPTS = 3
DEADLINE = 3.0  # READFACE_CALLBACK_TIMEOUT: the whole of one attempt


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[Api, str]]:
    with running_redis() as server:
        env = service_env(
            server.url,
            READFACE_CALLBACK_ALLOW_PRIVATE="1",
            READFACE_CALLBACK_BACKOFF="0.1",
            READFACE_CALLBACK_TIMEOUT=str(DEADLINE),
            READFACE_CALLBACK_MAX_ATTEMPTS=str(ATTEMPTS),
        )
        with (
            running_split_workers(env),
            running_api(env) as api,
        ):
            wait_for_worker(api)
            yield api, server.url


def test_receiver_down_does_not_hold_up_the_analysis(stack: tuple[Api, str]) -> None:
    api, redis_url = stack
    closed = f"http://127.0.0.1:{free_port()}/hook"
    analysis_id = api.submit(astronaut_jpeg(quality=31), callback_url=closed).json()["id"]
    assert api.wait_done(analysis_id)["status"] == "succeeded"
    poll(lambda: deliveries_settled(redis_url), 60, "delivery attempts to end")


def test_slow_receiver_is_retried_then_given_up(stack: tuple[Api, str]) -> None:
    api, redis_url = stack
    receiver = Receiver([], delay=2 * DEADLINE)
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


def test_dripping_receiver_is_cut_at_the_deadline_and_retried(stack: tuple[Api, str]) -> None:
    api, redis_url = stack
    receiver = DrippingReceiver()
    try:
        api.submit(astronaut_jpeg(quality=34), callback_url=receiver.url)
        poll(lambda: len(receiver.held) >= ATTEMPTS, 60, "every attempt to be cut")
        poll(lambda: deliveries_settled(redis_url), 60, "delivery attempts to end")
        assert len(receiver.held) == ATTEMPTS
        # Each would last len(answer) * DRIP_SECONDS = 200 s; the client's hang-up is seen
        # within one drip.
        assert max(receiver.held) < DEADLINE + 2 * DRIP_SECONDS
    finally:
        receiver.close()


def test_analysis_finishes_while_a_delivery_drips(stack: tuple[Api, str]) -> None:
    api, _ = stack
    receiver = DrippingReceiver()
    try:
        api.submit(astronaut_jpeg(quality=35), callback_url=receiver.url)
        poll(lambda: receiver.open, 60, "a delivery to start dripping")
        dripping_since = len(receiver.held)
        other = api.submit(astronaut_jpeg(quality=36)).json()["id"]
        assert api.wait_done(other, timeout=DEADLINE * ATTEMPTS)["status"] == "succeeded"
        # Still the same attempt: the analysis did not wait for it to end (on one analysis
        # process that also delivered callbacks, it would have).
        assert receiver.open and len(receiver.held) == dripping_since
    finally:
        receiver.close()


@contextlib.contextmanager
def api_behind_silent_dns(tmp_path: Path, env: dict[str, str]) -> Iterator[tuple[Api, SilentDns]]:
    """The API behind a name server that never answers (see harness/dns.py)."""
    with silent_dns(tmp_path) as (dns, conf):
        port = free_port()
        process = start_api_with_resolv_conf(conf, env, port)
        api = Api(f"http://127.0.0.1:{port}", process)
        try:
            poll(lambda: _healthy(api), 30, "the API to answer /healthz")
            yield api, dns
        finally:
            stop(process)


def _healthy(api: Api) -> bool:
    assert api.process.poll() is None, f"the API exited with {api.process.returncode}"
    with contextlib.suppress(requests.ConnectionError):
        return api.get("/healthz").status_code == 200
    return False


@pytest.mark.skipif(
    not can_fake_dns(), reason="needs root (a mount namespace, and port 53) and unshare"
)
def test_callback_hosts_whose_dns_never_answers_do_not_take_the_api(tmp_path: Path) -> None:
    submissions = DNS_MAX_LOOKUPS + 4
    with (
        running_redis() as server,
        api_behind_silent_dns(tmp_path, service_env(server.url)) as (
            api,
            dns,
        ),
    ):
        answers: list[requests.Response] = []

        def submit(number: int) -> None:
            url = f"http://hang{number}.readface.test/hook"
            answers.append(api.submit(astronaut_jpeg(quality=40 + number), callback_url=url))

        threads = [threading.Thread(target=submit, args=(n,)) for n in range(submissions)]
        for thread in threads:
            thread.start()
        poll(lambda: len(dns.names) >= DNS_MAX_LOOKUPS, 10, "the lookups to reach the DNS")
        assert requests.get(api.url + "/healthz", timeout=1).status_code == 200
        for thread in threads:
            thread.join(30)
        codes = sorted((r.status_code, r.json()["error"]["code"]) for r in answers)
        # Lookups hang for 30 s: the first 8 time out after 2 s, the rest are refused at once.
        assert codes == [(422, "invalid_callback")] * DNS_MAX_LOOKUPS + [(503, "unavailable")] * (
            submissions - DNS_MAX_LOOKUPS
        )
