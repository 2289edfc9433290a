"""API keys and their tenants: READFACE_API_KEYS parsed into (tenant, SHA-256 of the key) pairs.

A tenant is the scope of ids, dedup, results and callbacks (shared/store/keys.py). Only the
keys' hashes are kept after parsing, so no key is held in clear by the settings, logged with them,
or written to Redis.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

# Tenant names become part of Redis key names: no ':' (the key separator), no spaces or globs.
TENANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# The tenant of a key given without a name is named from the key's hash: stable across restarts
# and replicas, and 48 bits say nothing useful about a key of any real entropy.
BARE_KEY_TENANT_HEX = 12


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One accepted key: the tenant it acts for and the SHA-256 of the key itself."""

    tenant: str
    digest: bytes


def key_digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def is_tenant_name(name: str) -> bool:
    return TENANT_NAME.fullmatch(name) is not None


def parse_api_keys(value: str) -> tuple[ApiKey, ...]:
    """Comma-separated `tenant:key` or bare `key` entries (a key containing ':' needs its tenant
    given). One tenant may have several keys (rotation); one key may not name two tenants.
    ValueError names the entry by position, never by its text: the text is a secret."""
    keys: list[ApiKey] = []
    for position, entry in enumerate((e.strip() for e in value.split(",") if e.strip()), 1):
        tenant, named, key = (part.strip() for part in entry.partition(":"))
        if not named:
            key = tenant
            tenant = "key-" + key_digest(key).hex()[:BARE_KEY_TENANT_HEX]
        if not is_tenant_name(tenant):
            raise ValueError(
                f"READFACE_API_KEYS entry {position}: a tenant name is 1 to 64 letters, digits, "
                "'_', '.' or '-', starting with a letter or digit."
            )
        if not key:
            raise ValueError(f"READFACE_API_KEYS entry {position}: the key after ':' is empty.")
        keys.append(ApiKey(tenant, key_digest(key)))
    if len({k.digest for k in keys}) < len(keys):
        raise ValueError("READFACE_API_KEYS: the same key is given more than once.")
    return tuple(keys)
