"""Callback safety without a service: address classes, the connect-time guard, signatures."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from standardwebhooks import Webhook

from shared.callback_urls import check_callback_url, is_public_address
from shared.errors import InvalidCallback
from shared.webhooks import webhook_headers
from worker.callbacks import callback_session

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "64:ff9b::7f00:1",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "url", ["ftp://example.com/", "file:///etc/passwd", "http://user:pw@8.8.8.8/", "/relative"]
)
def test_non_http_or_credentialed_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidCallback):
        check_callback_url(url, allow_private=True)


@pytest.fixture()
def local_receiver() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


def test_connect_time_guard_stops_a_private_peer(local_receiver: str) -> None:
    # What DNS rebinding would produce: the checked name now leads to a private address.
    with pytest.raises(InvalidCallback), callback_session(allow_private=False) as session:
        session.post(local_receiver, data=b"{}", timeout=5)


def test_private_peer_is_reached_when_allowed(local_receiver: str) -> None:
    with callback_session(allow_private=True) as session:
        assert session.post(local_receiver, data=b"{}", timeout=5).status_code == 204


def test_signature_verifies_with_standard_webhooks() -> None:
    body = b'{"id": "x"}'
    headers = webhook_headers(SECRET, "msg_1", 1_700_000_000, body)
    verifier = Webhook(SECRET)
    # standardwebhooks rejects stale timestamps; check the signature itself.
    when = datetime.fromtimestamp(1_700_000_000, tz=UTC)
    assert headers["webhook-signature"] == verifier.sign("msg_1", when, body.decode())
