"""Which callback URLs readface will POST to: http(s) only, and no private addresses unless
allowed. Checked when a URL is submitted, again before each delivery (DNS can change), and the
worker checks the address it actually connected to with `is_public_address` (DNS rebinding)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from shared.errors import InvalidCallback

MAX_URL_LENGTH = 2048
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# IPv6 forms that carry an IPv4 address a socket may end up talking to (RFC 4291, RFC 6052).
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def is_public_address(address: IPAddress) -> bool:
    """True for a globally routable unicast address; loopback, private, link-local, reserved,
    multicast and such are not, including when wrapped in IPv4-mapped or NAT64 IPv6."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif address in _NAT64:
            address = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.is_global and not address.is_multicast


def resolve_addresses(host: str, port: int) -> list[IPAddress]:
    """Every address the host name resolves to (an IP literal resolves to itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise InvalidCallback(f"The callback host {host!r} does not resolve ({error}).") from error
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


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
        if not is_public_address(address):
            raise InvalidCallback(
                f"The callback host {parts.hostname!r} resolves to {address}, a private, "
                "loopback or reserved address; set READFACE_CALLBACK_ALLOW_PRIVATE to allow it."
            )
    return url
