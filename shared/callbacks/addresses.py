"""Which callback URLs readface will POST to: well-formed http(s) only, and no private addresses
unless allowed. Checked when a URL is submitted, again before each delivery (DNS can change),
and the worker connects only to addresses checked here (`HostLookups`, `is_public_address`)."""

from __future__ import annotations

import functools
import ipaddress
import math
import socket
import threading
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from urllib.parse import urlsplit

from shared.errors import InvalidCallback, Unavailable

MAX_URL_LENGTH = 2048
# getaddrinfo cannot be cancelled: a lookup gets this long before the caller gives up on it, and
# at most this many lookups (answered or still hanging) run at once per process. Beyond that a
# caller is refused at once: 8 of the API's 32 threads at most wait on DNS, each for 2 s at most.
DNS_TIMEOUT_SECONDS = 2.0
DNS_MAX_LOOKUPS = 8

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Lookup = Callable[[str, int], list[IPAddress]]

# Python 3.11's is_global misses these IPv4 ranges: IETF protocol assignments (RFC 6890) and the
# deprecated 6to4 relay anycast (RFC 7526).
_IPV4_NOT_PUBLIC = tuple(map(ipaddress.IPv4Network, ["192.0.0.0/24", "192.88.99.0/24"]))
# IPv6 is allowed only inside global unicast (RFC 4291), which keeps out IPv4-compatible ::/96,
# discard 100::/64, local-use NAT64 64:ff9b:1::/48 (its IPv4 position depends on the local
# prefix length), SRv6 5f00::/16, ULA, link-local, site-local fec0::/10 and multicast; inside it,
# the ranges is_global wrongly or version-dependently accepts: IETF protocol assignments
# 2001::/23 (Teredo, whose client address is obfuscated, benchmarking, ORCHID, AMT, AS112),
# documentation 2001:db8::/32 and 3fff::/20, and the retired 6bone 3ffe::/16.
_IPV6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_IPV6_NOT_PUBLIC = tuple(
    map(ipaddress.IPv6Network, ["2001::/23", "2001:db8::/32", "3fff::/20", "3ffe::/16"])
)
# The well-known NAT64 prefix carries an IPv4 address in its last 32 bits (RFC 6052).
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class CallbackLookupTimedOut(InvalidCallback):
    """The callback host did not resolve in time: 422 at submit, retried at delivery."""


class CallbackLookupsBusy(Unavailable):
    """Every lookup slot is taken (lookups hanging): 503 at submit, retried at delivery."""


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address a socket to this IPv6 address ends up talking to: IPv4-mapped,
    6to4 (RFC 3056) and well-known NAT64 forms."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public_address(address: IPAddress) -> bool:
    """True for a globally routable unicast address; loopback, private, link-local, reserved,
    deprecated, documentation, multicast and such are not, including when wrapped in IPv6."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is None:
            return (
                address in _IPV6_GLOBAL_UNICAST
                and not any(address in network for network in _IPV6_NOT_PUBLIC)
                and address.is_global
            )
        address = embedded
    if any(address in network for network in _IPV4_NOT_PUBLIC):
        return False
    return address.is_global and not address.is_multicast


def _getaddrinfo(host: str, port: int) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise InvalidCallback(f"The callback host {host!r} does not resolve ({error}).") from error
    # A scoped link-local address keeps its %zone: a socket needs it to connect.
    return [ipaddress.ip_address(str(info[4][0])) for info in infos]


class HostLookups:
    """Name lookups with a time box and a cap. Each runs on one of `limit` threads and the caller
    waits `timeout` at most; a lookup that hangs keeps its thread until the resolver gives up,
    so when all are taken a caller is refused at once rather than queued behind them."""

    def __init__(self, limit: int = DNS_MAX_LOOKUPS, lookup: Lookup = _getaddrinfo) -> None:
        self._slots = threading.BoundedSemaphore(limit)
        self._threads = ThreadPoolExecutor(limit, thread_name_prefix="callback-dns")
        self._lookup = lookup

    def resolve(
        self, host: str, port: int, timeout: float = DNS_TIMEOUT_SECONDS
    ) -> list[IPAddress]:
        """Every address of the host (an IP literal is itself, without a lookup)."""
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            pass
        if not self._slots.acquire(blocking=False):
            raise CallbackLookupsBusy(
                "Too many callback host names are being looked up; try again shortly.",
                retry_after=math.ceil(DNS_TIMEOUT_SECONDS),
            )
        try:
            future = self._threads.submit(self._run, host, port)
        except BaseException:
            self._slots.release()
            raise
        try:
            return future.result(timeout=max(timeout, 0.0))
        except FutureTimeout:
            raise CallbackLookupTimedOut(
                f"The callback host {host!r} did not resolve within {timeout:g} seconds."
            ) from None

    def _run(self, host: str, port: int) -> list[IPAddress]:
        try:
            return self._lookup(host, port)
        finally:
            self._slots.release()


@functools.cache
def host_lookups() -> HostLookups:
    """This process's lookups (created on first use, so in the process that uses them)."""
    return HostLookups()


def _has_control_or_space(url: str) -> bool:
    return any(char.isspace() or unicodedata.category(char) == "Cc" for char in url)


def check_callback_url(
    url: str, allow_private: bool, lookup_timeout: float = DNS_TIMEOUT_SECONDS
) -> str:
    """Return the URL if readface may call it, else raise InvalidCallback saying why
    (CallbackLookupsBusy when no lookup can start now)."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidCallback(f"The callback URL is longer than {MAX_URL_LENGTH} characters.")
    # urlsplit silently drops tabs and newlines, and requests would then refuse the URL at
    # every delivery attempt: refuse it once, here.
    if _has_control_or_space(url):
        raise InvalidCallback("The callback URL must not contain whitespace or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as error:
        raise InvalidCallback(f"The callback URL is malformed ({error}).") from error
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidCallback("The callback URL must be an absolute http or https URL with a host.")
    if parts.port == 0:
        raise InvalidCallback("The callback URL's port must be from 1 to 65535.")
    if parts.username or parts.password:
        raise InvalidCallback("The callback URL must not carry credentials.")
    if allow_private:
        return url
    addresses = host_lookups().resolve(parts.hostname, port, lookup_timeout)
    if not all(is_public_address(address) for address in addresses):
        # Which address it was stays unsaid: the answer would let anyone query internal DNS.
        raise InvalidCallback(
            f"The callback host {parts.hostname!r} resolves to a private, loopback or reserved "
            "address; set READFACE_CALLBACK_ALLOW_PRIVATE to allow it."
        )
    return url
