"""Callback safety without a network: address classes, URL syntax, time-boxed lookups,
signatures (the connect-time guard and the attempt deadline, which need a peer, are in
tests/integration/test_callback_session.py)."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from harness.service import poll
from shared.callbacks.addresses import (
    CallbackLookupsBusy,
    CallbackLookupTimedOut,
    HostLookups,
    IPAddress,
    check_callback_url,
    is_public_address,
)
from shared.callbacks.signing import webhook_headers
from shared.errors import InvalidCallback

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


# IPv6 spellings of private targets, and reserved or deprecated ranges Python 3.11's is_global
# calls global.
@pytest.mark.parametrize(
    "address",
    [
        "::127.0.0.1",  # IPv4-compatible (deprecated)
        "::7f00:1",
        "::a9fe:a9fe",
        "::8.8.8.8",  # IPv4-compatible is refused whatever it carries
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "2002:c000:201::",  # 6to4 of 192.0.2.1 (documentation)
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "64:ff9b:1::7f00:1",  # local-use NAT64
        "fec0::1",  # site-local (deprecated)
        "3ffe::1",  # 6bone (retired)
        "2001:db8::1",  # documentation
        "3fff::1",  # documentation (RFC 9637)
        "2001::1",  # Teredo
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo with a public server
        "2001:2::1",  # benchmarking
        "2001:10::1",  # ORCHID
        "2001:20::1",  # ORCHIDv2
        "100::1",  # discard
        "5f00::1",  # SRv6 SIDs
        "ff02::1",  # multicast
        "192.0.0.8",  # IETF protocol assignments
        "192.88.99.1",  # 6to4 relay anycast (deprecated)
    ],
)
def test_reserved_and_wrapped_addresses_are_refused(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "2606:4700:4700::1111",
        "::ffff:8.8.8.8",
        "2002:808:808::1",  # 6to4 of 8.8.8.8
        "64:ff9b::808:808",  # NAT64 of 8.8.8.8
        "2a00:1450:4001:80b::200e",
        "2001:4860:4860::8888",  # in 2001::/16 but outside the IETF assignments' /23
    ],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "url",
    [
        "http://[::127.0.0.1]/hook",
        "http://[::7f00:1]/hook",
        "http://[::a9fe:a9fe]/hook",
        "http://[2002:7f00:1::]/hook",
        "http://[64:ff9b:1::7f00:1]/hook",
        "http://[fec0::1]/hook",
    ],
)
def test_ipv6_spellings_of_private_targets_are_refused_at_submit(url: str) -> None:
    with pytest.raises(InvalidCallback):
        check_callback_url(url, allow_private=False)


@pytest.mark.parametrize("url", ["http://[2606:4700:4700::1111]/hook", "https://8.8.8.8:8443/h"])
def test_public_ip_literals_are_accepted_at_submit(url: str) -> None:
    assert check_callback_url(url, allow_private=False) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/ho\tok",
        "http://exa\tmple.com/hook",
        "http://example.com/hook\n",
        "http://example.com/ hook",
        "http://example.com/\x00",
        "http://example.com/\x7f",
        "http://example.com/\u2028",
        "http://example.com:0/hook",
        "http://example.com:65536/hook",
        "http://example.com:99999/hook",
        "http://example.com:-1/hook",
        "http:///hook",
        "http://:80/hook",
        "http://user@/hook",
    ],
)
def test_malformed_urls_are_refused_even_with_private_targets_allowed(url: str) -> None:
    with pytest.raises(InvalidCallback):
        check_callback_url(url, allow_private=True)


def test_the_refusal_does_not_say_what_the_name_resolved_to() -> None:
    with pytest.raises(InvalidCallback) as refused:
        check_callback_url("http://localhost:8080/hook", allow_private=False)
    assert "127.0.0.1" not in refused.value.message and "::1" not in refused.value.message


@pytest.fixture()
def hanging_lookups() -> Iterator[tuple[HostLookups, threading.Event]]:
    """Lookups whose resolver blocks until released, as getaddrinfo does on a silent DNS."""
    release = threading.Event()

    def never_answers(host: str, port: int) -> list[IPAddress]:
        release.wait(30)
        return [ipaddress.ip_address("8.8.8.8")]

    yield HostLookups(limit=2, lookup=never_answers), release
    release.set()


def test_a_lookup_that_never_answers_is_given_up_after_its_time_box(
    hanging_lookups: tuple[HostLookups, threading.Event],
) -> None:
    lookups, _ = hanging_lookups
    with pytest.raises(CallbackLookupTimedOut):
        lookups.resolve("hang.example", 80, timeout=0.2)


def test_lookups_beyond_the_cap_are_refused_instead_of_queued(
    hanging_lookups: tuple[HostLookups, threading.Event],
) -> None:
    lookups, _ = hanging_lookups
    for name in ("one.example", "two.example"):
        with pytest.raises(CallbackLookupTimedOut):
            lookups.resolve(name, 80, timeout=0.05)
    with pytest.raises(CallbackLookupsBusy) as busy:
        lookups.resolve("three.example", 80, timeout=30)
    assert busy.value.status == 503 and busy.value.retry_after


def test_a_slot_is_free_again_once_its_hung_lookup_returns(
    hanging_lookups: tuple[HostLookups, threading.Event],
) -> None:
    lookups, release = hanging_lookups
    for name in ("one.example", "two.example"):
        with pytest.raises(CallbackLookupTimedOut):
            lookups.resolve(name, 80, timeout=0.05)
    release.set()
    poll(lambda: _resolves(lookups), 10, "a lookup slot to come free")


def _resolves(lookups: HostLookups) -> bool:
    try:
        return lookups.resolve("later.example", 80, timeout=5) == [ipaddress.ip_address("8.8.8.8")]
    except CallbackLookupsBusy:
        return False


def test_ip_literals_need_no_lookup_slot(
    hanging_lookups: tuple[HostLookups, threading.Event],
) -> None:
    lookups, _ = hanging_lookups
    for name in ("one.example", "two.example"):
        with pytest.raises(CallbackLookupTimedOut):
            lookups.resolve(name, 80, timeout=0.05)
    assert lookups.resolve("2606:4700:4700::1111", 80) == [
        ipaddress.ip_address("2606:4700:4700::1111")
    ]


@pytest.mark.parametrize(
    "url", ["ftp://example.com/", "file:///etc/passwd", "http://user:pw@8.8.8.8/", "/relative"]
)
def test_non_http_or_credentialed_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidCallback):
        check_callback_url(url, allow_private=True)


def test_signature_verifies_with_standard_webhooks() -> None:
    body = b'{"id": "x"}'
    headers = webhook_headers(SECRET, "msg_1", 1_700_000_000, body)
    verifier = Webhook(SECRET)
    # standardwebhooks rejects stale timestamps; check the signature itself.
    when = datetime.fromtimestamp(1_700_000_000, tz=UTC)
    assert headers["webhook-signature"] == verifier.sign("msg_1", when, body.decode())
