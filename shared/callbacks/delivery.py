"""Delivering a finished analysis to a callback URL, signed, retried with backoff and jitter.

Each attempt has one total deadline, READFACE_CALLBACK_TIMEOUT: name lookup, connect, TLS,
sending, and the answer's status line and headers. Per-read timeouts alone let a receiver that
sends a byte every few seconds hold a worker for as long as it likes, so a timer cuts the
connection when the deadline passes and the attempt fails (and is retried) like any other.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import json
import random
import socket
import threading
import time

import requests
from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import NewConnectionError
from urllib3.util.connection import create_connection

from shared.analysis_resource import analysis_resource
from shared.callbacks.addresses import (
    CallbackLookupsBusy,
    CallbackLookupTimedOut,
    check_callback_url,
    host_lookups,
    is_public_address,
)
from shared.callbacks.signing import webhook_headers
from shared.errors import InvalidCallback
from shared.settings import Settings
from shared.store import Store

# What a delivery of a deleted analysis returns: nothing is sent.
DROPPED = "dropped: the analysis was deleted"


class DeliveryFailed(Exception):
    """The receiver did not answer 2xx in time (or could not be reached); the attempt is retried."""


def _checked_peer(sock: socket.socket) -> socket.socket:
    """The connected socket, unless its peer is not public (defence in depth: the address was
    checked before connecting, this checks the one the kernel actually reached)."""
    peer = ipaddress.ip_address(sock.getpeername()[0].split("%")[0])
    if not is_public_address(peer):
        sock.close()
        raise InvalidCallback(f"The callback host connected to {peer}, a non-public address.")
    return sock


def _cut(sock: socket.socket) -> None:
    """Shut the connection down under whoever is blocked reading or writing it."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class Attempt:
    """One delivery attempt's budget: a total deadline, and the connections to cut at it."""

    def __init__(self, seconds: float, allow_private: bool) -> None:
        self.seconds = seconds
        self.allow_private = allow_private
        self._deadline = time.monotonic() + seconds
        self._watched: list[tuple[threading.Timer, socket.socket]] = []

    def remaining(self) -> float:
        return max(self._deadline - time.monotonic(), 0.0)

    def expired(self) -> bool:
        return self.remaining() == 0.0

    def connect(self, connection: HTTPConnection) -> socket.socket:
        """A socket to the connection's host, trying its addresses in turn. They are looked up
        here, within the deadline, and connected to as checked: DNS cannot change in between."""
        addresses = host_lookups().resolve(connection.host, connection.port, self.remaining())
        error: OSError | None = None
        for address in addresses:
            if not self.allow_private and not is_public_address(address):
                raise InvalidCallback("The callback host resolves to a non-public address.")
            try:
                sock = create_connection(
                    (str(address), connection.port),
                    self.remaining(),
                    source_address=connection.source_address,
                    socket_options=connection.socket_options,
                )
            except OSError as failed:
                error = failed
                continue
            self._watch(sock)
            return sock if self.allow_private else _checked_peer(sock)
        raise NewConnectionError(connection, f"Failed to establish a new connection: {error}")

    def _watch(self, sock: socket.socket) -> None:
        # A duplicate descriptor: TLS wrapping detaches the original socket object, and a
        # shutdown through either one ends the same connection.
        duplicate = sock.dup()
        timer = threading.Timer(self.remaining(), _cut, (duplicate,))
        timer.daemon = True
        timer.start()
        self._watched.append((timer, duplicate))

    def close(self) -> None:
        for timer, duplicate in self._watched:
            timer.cancel()
            duplicate.close()
        self._watched.clear()


class _AttemptHTTPConnection(HTTPConnection):
    def __init__(self, *args: object, attempt: Attempt, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._attempt = attempt

    def _new_conn(self) -> socket.socket:
        return self._attempt.connect(self)


class _AttemptHTTPSConnection(HTTPSConnection):
    def __init__(self, *args: object, attempt: Attempt, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._attempt = attempt

    def _new_conn(self) -> socket.socket:
        return self._attempt.connect(self)


class _AttemptHTTPPool(HTTPConnectionPool):
    ConnectionCls = _AttemptHTTPConnection


class _AttemptHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _AttemptHTTPSConnection


class _AttemptAdapter(HTTPAdapter):
    """Connections made by the attempt: its lookups, its address check, its deadline."""

    def __init__(self, attempt: Attempt) -> None:
        self._attempt = attempt
        super().__init__()

    def init_poolmanager(self, *args: object, **kwargs: object) -> None:
        super().init_poolmanager(*args, **kwargs)  # type: ignore[arg-type]
        # The pools hand unknown keyword arguments on to their connections; urllib3 only calls
        # these factories, so a partial serves where its annotation asks for a class.
        self.poolmanager.pool_classes_by_scheme = {
            "http": functools.partial(_AttemptHTTPPool, attempt=self._attempt),  # type: ignore[dict-item]
            "https": functools.partial(_AttemptHTTPSPool, attempt=self._attempt),  # type: ignore[dict-item]
        }


class DeliverySession(requests.Session):
    """A session for one delivery attempt; closing it cancels the attempt's timers."""

    def __init__(self, attempt: Attempt) -> None:
        super().__init__()
        self.attempt = attempt
        # No proxies from the environment: the address check must see the receiver itself.
        self.trust_env = False
        self.mount("http://", _AttemptAdapter(attempt))
        self.mount("https://", _AttemptAdapter(attempt))

    def close(self) -> None:
        super().close()
        self.attempt.close()


def callback_session(allow_private: bool, seconds: float) -> DeliverySession:
    """A session for one delivery attempt, cut off `seconds` from now: no proxies and, unless
    private addresses are allowed, only public addresses, checked before and after connecting."""
    return DeliverySession(Attempt(seconds, allow_private))


def backoff_seconds(settings: Settings, attempt: int) -> float:
    """Exponential backoff with jitter: between half and all of base * 2**attempt seconds."""
    ceiling = settings.callback_backoff * (2**attempt)
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def deliver(store: Store, analysis_id: str, url: str, message_id: str) -> str:
    """POST the analysis to the URL once; returns what happened, raises DeliveryFailed to retry.

    InvalidCallback (the name now resolves somewhere private) is final: retrying won't help.
    A lookup that timed out or could not start is not: it is retried like any failure.
    """
    settings = store.settings
    analysis = store.analysis(analysis_id)
    if analysis is None:
        return DROPPED
    body = json.dumps(analysis_resource(analysis)).encode()
    headers = webhook_headers(settings.webhook_secret, message_id, int(time.time()), body)
    session = callback_session(settings.callback_allow_private, settings.callback_timeout)
    try:
        with session:
            # DNS may have changed since submit
            check_callback_url(url, settings.callback_allow_private, session.attempt.remaining())
            # Only the status line and headers are read: the body could be endless.
            with session.post(
                url,
                data=body,
                headers=headers,
                timeout=max(session.attempt.remaining(), 0.001),
                allow_redirects=False,
                stream=True,
            ) as response:
                status = response.status_code
    except (CallbackLookupTimedOut, CallbackLookupsBusy) as error:
        raise DeliveryFailed(f"{url}: {error.message}") from error
    except requests.RequestException as error:
        if session.attempt.expired():
            raise DeliveryFailed(
                f"{url}: no answer within {settings.callback_timeout:g} seconds"
            ) from error
        raise DeliveryFailed(f"{url}: {type(error).__name__}") from error
    if not 200 <= status < 300:
        raise DeliveryFailed(f"{url}: HTTP {status}")
    return f"delivered: HTTP {status}"
