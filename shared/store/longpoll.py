"""Long-polls: wait on a job's `done:{id}` channel until it ends, without busy polling.

Every long-poll of a process shares one pub/sub connection (EndNotices): a listener subscribed to
all the `done:` channels of the key prefix wakes the long-polls waiting on the channel a message
names. A waiting long-poll is then an event and an entry in a dict, whatever the number (issue 25:
1,000 of them under gevent are 1,000 greenlets and one Redis connection).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from shared.store.job_steps import JobSteps
from shared.store.records import StoredAnalysis

log = logging.getLogger("readface.api")
# How long the listener blocks for a message before it looks again (and redis-py checks the
# connection's health): short enough that a lost connection is noticed soon.
LISTEN_SECONDS = 1.0
# After the subscription fails (Redis restarting, a failover), the listener tries again after this.
RESUBSCRIBE_SECONDS = 0.5


class EndNotices:
    """One pub/sub subscription to every `done:` channel under a key prefix, for all the
    long-polls of the process; its listener runs in a thread (a greenlet under gevent) started by
    the first long-poll."""

    def __init__(self, client: redis.Redis, key_prefix: str) -> None:
        self._client = client
        self._pattern = re.sub(r"([*?\[\]\\])", r"\\\1", key_prefix) + "*done:*"
        self._lock = threading.Lock()
        self._waiting: dict[bytes, set[threading.Event]] = {}
        self._subscribed = threading.Event()
        self._listener: threading.Thread | None = None

    @contextmanager
    def watching(self, channel: bytes, timeout: float) -> Iterator[threading.Event | None]:
        """An event set when `channel` gets a message, or when the subscription was made again
        after a loss (a message may have been missed): waited on for the block. None if the
        subscription is not up within `timeout`."""
        woken = threading.Event()
        with self._lock:
            if self._listener is None or not self._listener.is_alive():
                self._listener = threading.Thread(
                    target=self._listen, name="readface-end-notices", daemon=True
                )
                self._listener.start()
            self._waiting.setdefault(channel, set()).add(woken)
        try:
            yield woken if self._subscribed.wait(timeout) else None
        finally:
            with self._lock:
                waiters = self._waiting[channel]
                waiters.discard(woken)
                if not waiters:
                    del self._waiting[channel]

    def _listen(self) -> None:
        while True:
            pubsub = self._client.pubsub()
            try:
                pubsub.psubscribe(self._pattern)
                while True:
                    message = pubsub.get_message(timeout=LISTEN_SECONDS)
                    if message is None:
                        continue
                    if message["type"] == "psubscribe":
                        self._subscribed.set()
                        self._wake(None)  # whatever ended while it was down is read again
                    elif message["type"] == "pmessage":
                        self._wake(message["channel"])
            except redis.RedisError as error:
                self._subscribed.clear()
                log.warning("long-poll subscription lost (%s); subscribing again", error)
            finally:
                pubsub.close()
            time.sleep(RESUBSCRIBE_SECONDS)

    def _wake(self, channel: bytes | None) -> None:
        with self._lock:
            if channel is None:
                events = [event for waiters in self._waiting.values() for event in waiters]
            else:
                events = list(self._waiting.get(channel, ()))
        for event in events:
            event.set()


class LongPolls(JobSteps):
    """Waiting for a job to end, on top of reading it."""

    _end_notices: EndNotices

    def wait_for_end(self, analysis_id: str, timeout: float) -> StoredAnalysis | None:
        """The analysis once it has ended, or as it is when the timeout passes (pub/sub, no
        busy polling); None if there is no such job."""
        if timeout <= 0:
            return self.analysis(analysis_id)
        deadline = time.monotonic() + timeout
        channel = self.analysis_key("done", analysis_id).encode()
        with self._end_notices.watching(channel, timeout) as woken:
            # Read once the subscription is up, so an end published before it is seen in the
            # job and one published after it wakes this long-poll.
            while woken is not None:
                woken.clear()
                found = self.analysis(analysis_id)
                if found is None or found.job.status.terminal:
                    return found
                left = deadline - time.monotonic()
                if left <= 0 or not woken.wait(left):
                    break
        return self.analysis(analysis_id)
