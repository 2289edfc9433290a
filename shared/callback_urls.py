"""Which callback URLs readface will POST to: http(s) only, and no private addresses unless
allowed. Checked when a URL is submitted and again at each delivery (DNS can change)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from shared.errors import InvalidCallback

MAX_URL_LENGTH = 2048


def resolve_addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Every address the host name resolves to (an IP literal resolves to itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise InvalidCallback(f"The callback host {host!r} does not resolve ({error}).") from error
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


def check_callback_url(url: str, allow_private: bool) -> str:
    """Return the URL if readface may call it, else raise InvalidCallback saying why."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidCallback(f"The callback URL is longer than {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as error:
        raise InvalidCallback(f"The callback URL is malformed ({error}).") from error
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidCallback("The callback URL must be an absolute http or https URL.")
    if parts.username or parts.password:
        raise InvalidCallback("The callback URL must not carry credentials.")
    if allow_private:
        return url
    for address in resolve_addresses(parts.hostname, port):
        if not address.is_global or address.is_multicast:
            raise InvalidCallback(
                f"The callback host {parts.hostname!r} resolves to {address}, a private, "
                "loopback or reserved address; set READFACE_CALLBACK_ALLOW_PRIVATE to allow it."
            )
    return url
