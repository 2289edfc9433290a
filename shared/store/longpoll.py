"""Long-polls: wait on a job's `done:{id}` channel until it ends, without busy polling."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from shared.store.job_steps import JobSteps
from shared.store.records import StoredAnalysis


def _await_message(pubsub: redis.client.PubSub, kind: str, channel: bytes, deadline: float) -> bool:
    """Whether a `kind` message on `channel` arrived before the deadline. Messages of channels
    this connection listened to for earlier long-polls may still trail in: they are skipped."""
    while (left := deadline - time.monotonic()) > 0:
        message = pubsub.get_message(timeout=min(left, 1.0))
        if message is not None and message["type"] == kind and message["channel"] == channel:
            return True
    return False


class LongPolls(JobSteps):
    """Waiting for a job to end, on top of reading it."""

    _local: threading.local

    def wait_for_end(self, analysis_id: str, timeout: float) -> StoredAnalysis | None:
        """The analysis once it has ended, or as it is when the timeout passes (pub/sub, no
        busy polling); None if there is no such job."""
        if timeout <= 0:
            return self.analysis(analysis_id)
        deadline = time.monotonic() + timeout
        channel = self.analysis_key("done", analysis_id).encode()
        with self._subscription(channel) as pubsub:
            # Read once the subscription is confirmed, so an end published before it is seen
            # in the job and one published after it arrives as a message.
            if _await_message(pubsub, "subscribe", channel, deadline):
                found = self.analysis(analysis_id)
                if found is None or found.job.status.terminal:
                    return found
                _await_message(pubsub, "message", channel, deadline)
        return self.analysis(analysis_id)

    @contextmanager
    def _subscription(self, channel: bytes) -> Iterator[redis.client.PubSub]:
        """This thread's pub/sub connection, subscribed to the channel for a while. It is kept
        between long-polls, because closing one costs a reconnect; after an error it is closed,
        so that the next long-poll starts on a sound connection."""
        pubsub = getattr(self._local, "pubsub", None)
        if pubsub is None:
            pubsub = self._local.pubsub = self.redis.pubsub()
        try:
            pubsub.subscribe(channel)
            yield pubsub
        except BaseException:
            self._local.pubsub = None
            pubsub.close()
            raise
        pubsub.unsubscribe(channel)
