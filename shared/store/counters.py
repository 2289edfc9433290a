"""Counters, per-client rate windows and queue depths: what /metrics and the guard read."""

from __future__ import annotations

import time
from typing import cast

from redis.commands.core import Script

from shared.store.keys import RATE_WINDOW_SECONDS, RATE_WINDOW_TTL, KeyedStore


class Counters(KeyedStore):
    """The counting half of the Store."""

    _count_request: Script

    def counters(self) -> dict[str, int]:
        names = ["executions", "succeeded", "failed", "dedup_hits", "enqueued"]
        values = cast(list[bytes | None], self.redis.mget([self.key("stats", n) for n in names]))
        return {n: int(v or 0) for n, v in zip(names, values, strict=True)}

    def hit_rate_limit(self, client: str, limit: int) -> int | None:
        """Count one request; seconds until the window resets if over the limit, else None."""
        now = time.time()
        window = int(now // RATE_WINDOW_SECONDS)
        count = self._count_request(
            keys=[self.key("rate", f"{client}:{window}")], args=[RATE_WINDOW_TTL]
        )
        return (
            max(1, int(RATE_WINDOW_SECONDS - now % RATE_WINDOW_SECONDS)) if count > limit else None
        )

    def queue_depth(self, queue: str) -> int:
        return cast(int, self.redis.llen(queue))
