"""The blob sweep: one pass over the blob store that deletes what should no longer be there and
counts what is left (Redis's `stats:blob_bytes`, which the byte cap reads).

A blob goes when it is past its kind's lifetime (an annotated image whose result expired, an
upload whose job waited too long), or when it is older than ORPHAN_SECONDS and no job names it:
a crash between writing a blob and recording it, an upload whose job ended or was deleted while
the blob store was down, a temporary file a crash left. Each blob checked costs one HGET,
pipelined in batches, so a pass costs a listing of the store and one read per retained result.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

from shared.blobs.base import BlobInfo, BlobStore
from shared.blobs.names import ANNOTATED, KINDS, ORPHAN_SECONDS, UPLOADS, owner_of
from shared.store import Store

BATCH = 500
# The job hash field that names each kind of blob (shared/store/keys.py).
_JOB_FIELDS = {UPLOADS: "upload", ANNOTATED: "annotated"}


@dataclass(frozen=True, slots=True)
class BlobSweep:
    """What one pass did: blobs deleted as expired or orphaned, blobs and bytes kept."""

    expired: int
    orphaned: int
    kept: int
    kept_bytes: int


def sweep_blobs(store: Store, blobs: BlobStore, now: float | None = None) -> BlobSweep:
    """One pass over every kind of blob; `store` is the unscoped store (it reads every tenant)."""
    now = time.time() if now is None else now
    expired = orphaned = kept = kept_bytes = 0
    for kind in KINDS:
        for batch in _batches(blobs.listing(kind), BATCH):
            unnamed = _unnamed(store, [b for b in batch if now - b.written > ORPHAN_SECONDS])
            for blob in batch:
                if blobs.expired(blob.name, blob.written, now):
                    blobs.delete(blob.name)
                    expired += 1
                elif blob.name in unnamed:
                    blobs.delete(blob.name)
                    orphaned += 1
                else:
                    kept += 1
                    kept_bytes += blob.size
    store.set_blob_bytes(kept_bytes)
    return BlobSweep(expired, orphaned, kept, kept_bytes)


def _unnamed(store: Store, old: list[BlobInfo]) -> set[str]:
    """The names among these that no job names now (unreadable names included)."""
    owners = [(blob.name, owner_of(blob.name)) for blob in old]
    known = [(name, owner) for name, owner in owners if owner is not None]
    tokens = store.named_blobs([(_JOB_FIELDS[o.kind], o.tenant, o.analysis_id) for _, o in known])
    pairs = zip(known, tokens, strict=True)
    named = {name for (name, owner), token in pairs if token == owner.token}
    return {name for name, _ in owners} - named


def _batches(items: Iterable[BlobInfo], size: int) -> Iterator[list[BlobInfo]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
