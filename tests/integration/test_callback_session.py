"""The session a callback attempt is made with, against real local peers: the connect-time
guard (what DNS rebinding would get past the submit-time check) and the attempt's total
deadline."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import requests

from harness.receivers import DrippingReceiver
from shared.callbacks.delivery import callback_session
from shared.errors import InvalidCallback


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
    with (
        pytest.raises(InvalidCallback),
        callback_session(allow_private=False, seconds=5) as session,
    ):
        session.post(local_receiver, data=b"{}", timeout=5)


def test_private_peer_is_reached_when_allowed(local_receiver: str) -> None:
    with callback_session(allow_private=True, seconds=5) as session:
        assert session.post(local_receiver, data=b"{}", timeout=5).status_code == 204


def test_an_attempt_is_cut_at_its_total_deadline() -> None:
    receiver = DrippingReceiver()
    try:
        with callback_session(True, seconds=1) as session, pytest.raises(requests.ConnectionError):
            session.post(receiver.url, data=b"{}", timeout=5, stream=True)
        # Per-read timeouts (5 s) never fire at one byte a DRIP_SECONDS, and the whole status
        # line takes minutes: only the cut at the deadline ends the attempt in an error.
        assert session.attempt.expired()
    finally:
        receiver.close()
