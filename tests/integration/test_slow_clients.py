"""Slow and idle clients over real sockets against the API under gunicorn: 200 uploads that send
their headers and then trickle their bodies hold no thread (each is a greenlet); they are answered
408 and closed at the body deadline, and nothing of them is stored."""

from __future__ import annotations

import contextlib
import hashlib
import json
import resource
import selectors
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import numpy as np
import pytest
import requests

from harness.images import astronaut_jpeg, encode
from harness.service import Api, poll, running_api, wait_ready
from shared.store import Store

pytestmark = pytest.mark.integration

SLOW_UPLOADS = 200
# Short deadlines for this module's API (the defaults are 10 s and 60 s).
HEADER_TIMEOUT = 2.0
BODY_TIMEOUT = 4.0
TRICKLE_EVERY = 0.5
# Room past a deadline for a busy 2-core machine to close the connection.
CUT_SLACK = 1.5
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


@pytest.fixture(scope="module")
def slow_api(env: dict[str, str], worker: None) -> Iterator[Api]:
    # Two descriptors per slow upload (ours and the API's, which inherits this limit), and room.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = 2 * SLOW_UPLOADS + 512
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))
    timeouts = {
        "READFACE_API_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
        "READFACE_API_BODY_TIMEOUT": str(BODY_TIMEOUT),
    }
    with running_api({**env, **timeouts}) as api:
        wait_ready(api)
        yield api


class SlowClients:
    """Sockets that send `start` and then one byte of `trickle` per socket every TRICKLE_EVERY
    seconds, from a thread, until the server closes them; what each received is kept."""

    def __init__(self, api: Api, count: int, start: bytes, trickle: bytes) -> None:
        address = urlsplit(api.url)
        self.sockets = [
            socket.create_connection((address.hostname, address.port), timeout=5)
            for _ in range(count)
        ]
        self.trickle = trickle
        self.received = {sock: b"" for sock in self.sockets}
        self.closed_at: dict[socket.socket, float] = {}
        self.selector = selectors.DefaultSelector()
        self.started_at = time.monotonic()
        for sock in self.sockets:
            if start:
                sock.sendall(start)
            sock.setblocking(False)
            self.selector.register(sock, selectors.EVENT_READ)
        self.stopping = threading.Event()
        self.sender = threading.Thread(target=self._trickle, daemon=True)

    def __enter__(self) -> SlowClients:
        self.sender.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        self.sender.join()
        self.selector.close()
        for sock in self.sockets:
            sock.close()

    def _trickle(self) -> None:
        for at in range(len(self.trickle)):
            if self.stopping.wait(TRICKLE_EVERY):
                return
            for sock in self.sockets:
                # A socket the server has cut takes no more.
                with contextlib.suppress(OSError):
                    sock.send(self.trickle[at : at + 1])

    def read(self) -> None:
        """Take whatever has arrived, without waiting; note when each socket was closed."""
        for key, _ in self.selector.select(timeout=0):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                data = b""
            self.received[sock] += data
            if not data:
                self.closed_at[sock] = time.monotonic()
                self.selector.unregister(sock)

    def all_received(self, prefix: bytes) -> bool:
        self.read()
        return all(data.startswith(prefix) for data in self.received.values())

    def all_closed(self) -> bool:
        self.read()
        return len(self.closed_at) == len(self.sockets)


def upload_head(api: Api, length: int) -> bytes:
    host = urlsplit(api.url).netloc
    return (
        f"POST /v1/analyses HTTP/1.1\r\nHost: {host}\r\nContent-Type: image/jpeg\r\n"
        f"Content-Length: {length}\r\nExpect: 100-continue\r\n\r\n"
    ).encode()


def unique_jpeg() -> bytes:
    """Bytes no other test sends, so the upload is a new job (202), not a dedup hit."""
    return encode(np.random.default_rng().integers(0, 256, (64, 64, 3), dtype=np.uint8))


def job_keys(store: Store) -> set[bytes]:
    return set(store.redis.scan_iter(match=f"{store.settings.key_prefix}job:*"))


def test_health_and_an_upload_are_answered_while_200_slow_uploads_trickle(
    slow_api: Api,
) -> None:
    body = astronaut_jpeg(quality=71)
    with SlowClients(slow_api, SLOW_UPLOADS, upload_head(slow_api, len(body)), body) as slow:
        # The API has all 200 open, their headers read: each was told to send its body.
        poll(lambda: slow.all_received(CONTINUE), 10, "100 Continue on every slow upload")

        started = time.monotonic()
        health = requests.get(slow_api.url + "/healthz", timeout=5)
        health_seconds = time.monotonic() - started
        started = time.monotonic()
        upload = requests.post(
            slow_api.url + "/v1/analyses",
            data=unique_jpeg(),
            headers={"Content-Type": "image/jpeg"},
            timeout=5,
        )
        upload_seconds = time.monotonic() - started

        # An API that the slow uploads starved would answer only once it had cut them at the
        # body deadline: answered while all are still open is the claim, whatever the machine.
        slow.read()
        assert not slow.closed_at, "answered only after the slow uploads were cut"
    assert health.status_code == 200
    assert upload.status_code == 202, upload.text
    print(f"\n/healthz {health_seconds * 1000:.0f} ms, upload {upload_seconds * 1000:.0f} ms")


def test_slow_uploads_are_answered_408_at_the_body_deadline_and_nothing_is_stored(
    slow_api: Api, store: Store
) -> None:
    body = astronaut_jpeg(quality=72)
    before = job_keys(store)
    with SlowClients(slow_api, SLOW_UPLOADS, upload_head(slow_api, len(body)), body) as slow:
        poll(lambda: slow.all_received(CONTINUE), 10, "100 Continue on every slow upload")
        poll(slow.all_closed, BODY_TIMEOUT + 10, "the API to cut every slow upload")

    # They kept sending a byte every half second: the deadline is on the whole body, not idleness.
    waited = [at - slow.started_at for at in slow.closed_at.values()]
    print(f"\ncut after {min(waited):.2f}-{max(waited):.2f} s (body deadline {BODY_TIMEOUT} s)")
    assert min(waited) >= BODY_TIMEOUT
    assert max(waited) <= BODY_TIMEOUT + CUT_SLACK
    for answer in slow.received.values():
        final = answer.removeprefix(CONTINUE)
        assert final.startswith(b"HTTP/1.1 408 "), final
        assert json.loads(final.partition(b"\r\n\r\n")[2])["error"]["code"] == "request_timeout"
    assert job_keys(store) == before


def test_idle_and_slow_header_connections_are_closed_at_the_header_deadline(
    slow_api: Api,
) -> None:
    trickled_head = upload_head(slow_api, 1000)
    with (
        SlowClients(slow_api, 20, b"", b"") as idle,
        SlowClients(slow_api, 20, trickled_head[:10], trickled_head[10:]) as trickling,
    ):
        poll(lambda: idle.all_closed() and trickling.all_closed(), HEADER_TIMEOUT + 10, "cuts")

    for clients in (idle, trickling):
        waited = [at - clients.started_at for at in clients.closed_at.values()]
        assert min(waited) >= HEADER_TIMEOUT
        assert max(waited) <= HEADER_TIMEOUT + CUT_SLACK
    # Closed without an answer, as nginx does: gunicorn's gevent worker gives up on the head.
    assert all(answer == b"" for answer in [*idle.received.values(), *trickling.received.values()])


def test_a_chunked_upload_is_read_whole_and_accepted(slow_api: Api) -> None:
    data = unique_jpeg()
    pieces = (data[at : at + 700] for at in range(0, len(data), 700))

    response = requests.post(
        slow_api.url + "/v1/analyses",
        data=pieces,
        headers={"Content-Type": "image/jpeg"},
        timeout=10,
    )

    assert response.status_code == 202, response.text
    assert response.json()["id"] == hashlib.sha256(data).hexdigest()


def test_an_upload_expecting_100_continue_gets_it_once(slow_api: Api) -> None:
    data = unique_jpeg()
    address = urlsplit(slow_api.url)
    with socket.create_connection((address.hostname, address.port), timeout=5) as sock:
        sock.sendall(upload_head(slow_api, len(data)))
        assert sock.recv(len(CONTINUE)) == CONTINUE
        sock.sendall(data)
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(65536)

    assert answer.startswith(b"HTTP/1.1 202 "), answer


def test_a_kept_alive_connection_serves_the_request_after_an_unread_body(slow_api: Api) -> None:
    with requests.Session() as session:
        refused = session.post(
            slow_api.url + "/v1/analyses",
            data=b"x" * 100_000,
            headers={"Content-Type": "text/plain"},
            timeout=5,
        )
        health = session.get(slow_api.url + "/healthz", timeout=5)

    assert refused.status_code == 415
    assert health.status_code == 200
