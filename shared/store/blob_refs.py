"""What Redis knows about the blob store: the bytes it holds (for the cap), which blobs the jobs
name (for the blob sweeper), and whose turn it is to sweep. The blobs themselves are not here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from shared.store.keys import KeyedStore


class BlobRefs(KeyedStore):
    """The blob-keeping part of the Store."""

    def count_blob_bytes(self, delta: int) -> None:
        self.redis.incrby(self.key("stats", "blob_bytes"), delta)

    def blob_bytes(self) -> int:
        return int(cast(bytes | None, self.redis.get(self.key("stats", "blob_bytes"))) or 0)

    def set_blob_bytes(self, total: int) -> None:
        self.redis.set(self.key("stats", "blob_bytes"), total)

    def take_blob_sweep(self, seconds: float) -> bool:
        """Whether this caller sweeps the blob store now: one taker per `seconds`, whichever
        host asks first."""
        taken = self.redis.set(self.key("sweep", "blobs"), "1", nx=True, ex=max(1, int(seconds)))
        return bool(taken)

    def named_blobs(self, blobs: Sequence[tuple[str, str, str]]) -> list[str | None]:
        """For each (job field, tenant, id), the blob token that field of the job holds now
        (`upload` or `annotated`; None if the job is gone or names none), in one round trip."""
        with self.redis.pipeline(transaction=False) as pipe:
            for field, tenant, analysis_id in blobs:
                pipe.hget(self.analysis_key("job", analysis_id, tenant), field)
            found = cast(list[bytes | None], pipe.execute())
        return [token.decode() if token else None for token in found]
