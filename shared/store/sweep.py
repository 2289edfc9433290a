"""Pending jobs whose broker message may be lost: what the sweeper (worker/sweeper.py) sends again.

A job's message can vanish where the broker cannot give it back: popped by a worker whose
connection broke before the reply reached it, held by a host that is gone while the broker's
restore is stuck, or written after the last append-only fsync of a Redis that died. The store
keeps every pending job in one of two indexes (keys.py), so that finding them costs a lookup of
the due ones, not a scan.
"""

from __future__ import annotations

from typing import cast

from redis.commands.core import Script

from shared.store.keys import DueJob, KeyedStore, attempt_lease_seconds


class Sweeps(KeyedStore):
    """The sweeping part of the Store."""

    _sweep: Script
    _to_front: Script

    def take_due(self, queue: str, limit: int) -> tuple[list[DueJob], bool]:
        """Jobs whose message may be lost (see scripts.SWEEP), each stamped as sent now so that
        no other sweeper takes it too, and whether there may be more (call again). `queue` is
        the broker's list of analysis messages."""
        more, taken = cast(
            list,
            self._sweep(
                keys=[
                    self.key("sweep", "queued"),
                    self.key("sweep", "running"),
                    queue,
                    self.key("fair", "turns"),
                    self.key("fair", "served"),
                ],
                args=[
                    int(attempt_lease_seconds(self.settings) * 1000),
                    limit,
                    self.settings.upload_ttl,
                    self.settings.key_prefix,
                ],
            ),
        )
        return [self.job_ref(key.decode()) for key in taken], bool(more)

    def to_front(self, queue: str, task_ids: list[str]) -> int:
        """Move the messages of these tasks, just sent, to the head of `queue` (the last one
        given ends up first); how many were found (see scripts.TO_FRONT)."""
        if not task_ids:
            return 0
        return cast(int, self._to_front(keys=[queue], args=task_ids))
