"""READFACE_API_KEYS parsed into tenants and key hashes (shared/tenants.py)."""

from __future__ import annotations

import hashlib

import pytest

from shared.settings import get_settings
from shared.tenants import ApiKey, parse_api_keys


def test_named_keys_belong_to_their_tenants_and_only_their_hashes_are_kept() -> None:
    assert parse_api_keys(" alice:KEY1 , bob:KEY2,alice:KEY3 ") == (
        ApiKey("alice", hashlib.sha256(b"KEY1").digest()),
        ApiKey("bob", hashlib.sha256(b"KEY2").digest()),
        ApiKey("alice", hashlib.sha256(b"KEY3").digest()),
    )


def test_a_bare_key_gets_a_stable_tenant_named_from_its_hash() -> None:
    (key,) = parse_api_keys("k-one")
    assert key.tenant == "key-" + hashlib.sha256(b"k-one").hexdigest()[:12]
    assert parse_api_keys("k-one") == (key,)


def test_no_keys_is_an_open_service() -> None:
    assert parse_api_keys("") == parse_api_keys(" , ") == ()


@pytest.mark.parametrize(
    "value", ["a b:S3CR3T", "S3CR3T*:x", ":S3CR3T", "-S3CR3T:x", "S3CR3T:", "S3CR3T" * 11 + ":x"]
)
def test_a_bad_entry_is_refused_without_echoing_it(value: str) -> None:
    with pytest.raises(ValueError, match="entry 1") as refused:
        parse_api_keys(value)
    assert "S3CR3T" not in str(refused.value)


def test_a_key_given_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="more than once"):
        parse_api_keys("alice:KEY,bob:KEY")


def test_the_settings_hold_no_key_in_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("READFACE_API_KEYS", "alice:s3cret-Key,plain-s3cret")
    settings = get_settings()
    assert "s3cret" not in repr(settings)
    assert settings.api_keys[0].tenant == "alice"
