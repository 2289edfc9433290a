"""Blob names and lifetimes: the kind first (a lifecycle rule per kind is a prefix rule), then
the tenant's scope as in the Redis keys, the analysis id and the writer's own token.

- `uploads/{scope}{id}.{token}`: the bytes of an upload waiting for a worker. Deleted when its
  job ends; lives at most READFACE_UPLOAD_TTL plus CLAIM_DEADLINE_SECONDS.
- `annotated/{scope}{id}.{token}.jpg`: the annotated JPEG of a result, for READFACE_RESULT_TTL.

`{scope}` is `tenant:{name}:` with API keys on, else empty. The token is new for every write and
the job hash keeps it (fields `upload`, `annotated`), so every blob has one writer: an upload that
loses the race for its id (a dedup hit, joining the job in flight) or an attempt whose job ended
meanwhile deletes its own blob and never another's. A blob that no job names and that is older
than ORPHAN_SECONDS was left by a crash between writing it and recording it, and is swept.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from shared.settings import Settings

UPLOADS = "uploads/"
ANNOTATED = "annotated/"
KINDS = (UPLOADS, ANNOTATED)
# The API claims an upload's job within this of starting to write its blob, or gives up (503), so
# an upload's blob always outlives the wait of its job (READFACE_UPLOAD_TTL from the claim).
CLAIM_DEADLINE_SECONDS = 60
# A writer records its blob in its job within CLAIM_DEADLINE_SECONDS (the API) or at once (the
# worker's end step): an older blob that no job names is an orphan. The margin covers the clocks
# of the store's server and of the sweeper's host a little apart.
ORPHAN_SECONDS = 300

_NAME = re.compile(
    r"(?:tenant:(?P<tenant>[A-Za-z0-9_.-]{1,64}):)?(?P<id>[0-9a-f]{64})\.(?P<token>[0-9a-f]{16})"
)


@dataclass(frozen=True, slots=True)
class BlobOwner:
    """Whose blob a name is: its kind (UPLOADS or ANNOTATED), tenant, analysis and token."""

    kind: str
    tenant: str
    analysis_id: str
    token: str


def new_token() -> str:
    return secrets.token_hex(8)


def _scope(tenant: str) -> str:
    return f"tenant:{tenant}:" if tenant else ""


def upload_name(tenant: str, analysis_id: str, token: str) -> str:
    return f"{UPLOADS}{_scope(tenant)}{analysis_id}.{token}"


def annotated_name(tenant: str, analysis_id: str, token: str) -> str:
    return f"{ANNOTATED}{_scope(tenant)}{analysis_id}.{token}.jpg"


def owner_of(name: str) -> BlobOwner | None:
    """The owner a blob's name says, None for a name readface does not write (a temporary file
    left by a crash, anything else under its prefixes)."""
    kind = next((k for k in KINDS if name.startswith(k)), None)
    if kind is None:
        return None
    rest = name.removeprefix(kind)
    if kind == ANNOTATED:
        if not rest.endswith(".jpg"):
            return None
        rest = rest.removesuffix(".jpg")
    found = _NAME.fullmatch(rest)
    if found is None:
        return None
    return BlobOwner(kind, found["tenant"] or "", found["id"], found["token"])


def lifetimes(settings: Settings) -> dict[str, float]:
    """Seconds each kind of blob lives after it was written."""
    return {
        UPLOADS: settings.upload_ttl + CLAIM_DEADLINE_SECONDS,
        ANNOTATED: settings.result_ttl,
    }
