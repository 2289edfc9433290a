"""Replicas: a new job is accepted only once READFACE_REDIS_ACK_REPLICAS replicas hold it.

Redis replicates asynchronously: a primary that dies right after answering a write can take it
along, and the replica Sentinel promotes never had it. For a new job that would be a 202 for an
analysis that no longer exists (or a job without its message). WAIT blocks until the replicas
have acknowledged everything the connection it runs on wrote; it does not undo a write they
lack, so on a shortfall the API rolls the claim back and answers 503, and the client's retry
of the same bytes is a new claim.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import cast

import redis

from shared.store.keys import KeyedStore
from shared.store.records import Job, utc_now
from shared.store.scripts import MARK_ENQUEUED

# How long a new job waits for its replicas: a replica on the same network acknowledges in a
# millisecond or two; past this one is stalled or gone (or there is none since a failover).
ACK_TIMEOUT_MS = 500


class NotReplicated(redis.RedisError):
    """Fewer replicas than required acknowledged a new job in time (the API: 503)."""


class Replication(KeyedStore):
    """The replication half of the Store."""

    def primary(self) -> Hashable:
        """Which primary this store's connections go to (under Sentinel the address they last
        asked for; None for a plain URL, whose primary never changes)."""
        return getattr(self.redis.connection_pool, "master_address", None)

    def confirm_enqueued(self, job: Job, claimed_on: Hashable) -> None:
        """Mark the job's message as sent and, with READFACE_REDIS_ACK_REPLICAS, wait until that
        many replicas hold the claim, the message and the mark; NotReplicated if they don't
        within ACK_TIMEOUT_MS, if the job is gone, or if the primary changed since the claim
        (`claimed_on`, Replication.primary() right after it): a promoted replica may hold
        the claim without the message."""
        replicas = self.settings.redis_ack_replicas
        if replicas <= 0:
            return
        # WAIT counts this connection's writes, and the message went out on the broker's: the
        # mark, written here after the send, comes after both in the one replication stream.
        # EVAL, not a registered script: in a pipeline redis-py checks those with one more
        # round trip (SCRIPT EXISTS) each time; Redis caches the EVAL'd script all the same.
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.eval(MARK_ENQUEUED, 1, self.analysis_key("job", job.id), utc_now())
            pipe.wait(replicas, ACK_TIMEOUT_MS)
            marked, acknowledged = cast(list[int], pipe.execute())
        if not marked:
            raise NotReplicated(f"Job {job.id} vanished before its message was confirmed.")
        if self.primary() != claimed_on:
            raise NotReplicated("The Redis primary changed while a job was being accepted.")
        if acknowledged < replicas:
            raise NotReplicated(
                f"{acknowledged} of {replicas} Redis replicas acknowledged a new job in time."
            )
