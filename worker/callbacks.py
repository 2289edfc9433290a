"""Delivering a finished analysis to a callback URL, signed, retried with backoff and jitter."""

from __future__ import annotations

import ipaddress
import json
import random
import socket
import time

import requests
from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.connection import HTTPConnection, HTTPSConnection

from shared.callback_urls import check_callback_url, is_public_address
from shared.errors import InvalidCallback
from shared.resource import analysis_resource
from shared.settings import Settings
from shared.store import Store
from shared.webhooks import webhook_headers


class DeliveryFailed(Exception):
    """The receiver did not answer 2xx (or could not be reached); the attempt is retried."""


def _checked_peer(sock: socket.socket) -> socket.socket:
    """The connected socket, unless its peer is not public: a name that resolved to a public
    address at the check and to a private one at connect time (DNS rebinding) stops here."""
    peer = ipaddress.ip_address(sock.getpeername()[0].split("%")[0])
    if not is_public_address(peer):
        sock.close()
        raise InvalidCallback(f"The callback host connected to {peer}, a non-public address.")
    return sock


class _PublicHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _checked_peer(super()._new_conn())


class _PublicHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _checked_peer(super()._new_conn())


class _PublicHTTPPool(HTTPConnectionPool):
    ConnectionCls = _PublicHTTPConnection


class _PublicHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PublicHTTPSConnection


class _PublicOnlyAdapter(HTTPAdapter):
    """Connects only to public addresses, checked on the socket before a byte is sent."""

    def init_poolmanager(self, *args: object, **kwargs: object) -> None:
        super().init_poolmanager(*args, **kwargs)  # type: ignore[arg-type]
        self.poolmanager.pool_classes_by_scheme = {
            "http": _PublicHTTPPool,
            "https": _PublicHTTPSPool,
        }


def callback_session(allow_private: bool) -> requests.Session:
    """A session for deliveries: no proxies from the environment (the address check must see
    the receiver, not a proxy) and, unless private addresses are allowed, the address guard."""
    session = requests.Session()
    session.trust_env = False
    if not allow_private:
        session.mount("http://", _PublicOnlyAdapter())
        session.mount("https://", _PublicOnlyAdapter())
    return session


def backoff_seconds(settings: Settings, attempt: int) -> float:
    """Exponential backoff with jitter: between half and all of base * 2**attempt seconds."""
    ceiling = settings.callback_backoff * (2**attempt)
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def deliver(store: Store, analysis_id: str, url: str, message_id: str) -> str:
    """POST the analysis to the URL once; returns what happened, raises DeliveryFailed to retry.

    InvalidCallback (the name now resolves somewhere private) is final: retrying won't help.
    """
    settings = store.settings
    analysis = store.analysis(analysis_id)
    if analysis is None:
        return "dropped: the analysis was deleted"
    check_callback_url(url, settings.callback_allow_private)  # DNS may have changed since submit
    body = json.dumps(analysis_resource(analysis)).encode()
    headers = webhook_headers(settings.webhook_secret, message_id, int(time.time()), body)
    try:
        with callback_session(settings.callback_allow_private) as session:
            response = session.post(
                url,
                data=body,
                headers=headers,
                timeout=settings.callback_timeout,
                allow_redirects=False,
            )
    except requests.RequestException as error:
        raise DeliveryFailed(f"{url}: {type(error).__name__}") from error
    if not 200 <= response.status_code < 300:
        raise DeliveryFailed(f"{url}: HTTP {response.status_code}")
    return f"delivered: HTTP {response.status_code}"
