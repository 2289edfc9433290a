"""The watchdog: a worker whose consumer has died exits, so that whatever supervises it (compose's
restart policy, Kubernetes, `readface up`) starts a new one.

Celery keeps the process alive when its consumer dies: after an "Unrecoverable error" it stops
its pool, and that stop can wait forever (on a task that never ends, or a pool whose result pipe
was corrupted), while the sweeper's thread keeps the process looking busy. Nothing outside can
tell. A thread of the worker's main process (never of a pool process) watches three things and
calls os._exit (the pool processes die with it: Celery gives them a parent-death signal):

- the worker stopping on its own (no signal asked for it): it gets STOP_GRACE_SECONDS;
- a stop that was asked for (SIGTERM, SIGINT) still running past the hard time limit and a
  margin: a warm stop waits for the running tasks, which the hard limit ends;
- the consumer's event loop not ticking for STALL_SECONDS while it consumes (reconnecting to
  the broker pauses the count: a healed partition lets the worker resume by itself).

The event loop's own timer also looks for stranded messages: taken by the consumer, no longer
held by any task, yet never acknowledged, because the acknowledgement itself failed (Redis
stopped answering just then; celery/celery#2415). Each still counts against the prefetch limit,
so with one message per process the worker takes nothing more while its loop ticks on. Only a
new connection gives them back to the queue and starts the count afresh, so the consumer is made
to reconnect, as after a lost connection.

The tasks' messages are acknowledged only when a task ends, so whatever the dead worker held goes
back to its queue (the broker's visibility timeout, or the sweeper of another worker).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from celery import Celery, bootsteps, signals
from celery.bootsteps import CLOSE, TERMINATE
from celery.worker import state

from shared.celery_app import VISIBILITY_MARGIN_SECONDS
from shared.settings import Settings
from worker.fault_injection import (
    break_consumer_asked,
    break_consumer_now,
    fail_ack_asked,
    fail_ack_now,
)

log = logging.getLogger("readface.watchdog")

BEAT_SECONDS = 1.0
STALL_SECONDS = 30.0
STOP_GRACE_SECONDS = 10.0
# How long messages stay stranded before the consumer reconnects: a few of the loop's ticks, though
# a message is never between its delivery and its task within one (both happen in one callback).
STRANDED_SECONDS = 3.0
# What a worker the watchdog ended exits with (EX_SOFTWARE): not 0, so every supervisor acts.
EXIT_STATUS = 70


class Watchdog:
    """The state the consumer's heartbeat and Celery's signals report, and the thread that acts
    on it (`exit` is os._exit but for the tests of this class)."""

    def __init__(
        self,
        worker: Any,
        stop_deadline: float,
        exit: Callable[[int], object] = os._exit,
    ) -> None:
        self.worker = worker
        self.stop_deadline = stop_deadline
        self._exit = exit
        self._last_beat: float | None = None  # None: not consuming (starting, reconnecting)
        self._stop_asked_at: float | None = None
        self._stopping_since: float | None = None
        self._thread = threading.Thread(target=self._run, name="readface-watchdog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def beat(self) -> None:
        """The event loop ticked (called by its timer) or started consuming."""
        self._last_beat = time.monotonic()

    def paused(self) -> None:
        """The consumer stopped consuming on purpose: it reconnects, or the worker stops."""
        self._last_beat = None

    def stop_asked(self) -> None:
        if self._stop_asked_at is None:
            self._stop_asked_at = time.monotonic()

    def verdict(self, now: float) -> str | None:
        """Why the worker must exit now, or None while it is sound."""
        if self._stop_asked_at is not None:
            if now - self._stop_asked_at > self.stop_deadline:
                return f"its stop did not end within {self.stop_deadline:g} s"
            return None
        blueprint = getattr(self.worker, "blueprint", None)  # None until the worker is set up
        if blueprint is not None and blueprint.state in (CLOSE, TERMINATE):
            self._stopping_since = self._stopping_since or now
            if now - self._stopping_since > STOP_GRACE_SECONDS:
                return "its consumer died (see the unrecoverable error above)"
            return None
        if self._last_beat is not None and now - self._last_beat > STALL_SECONDS:
            return f"its event loop has not run for {now - self._last_beat:.0f} s"
        return None

    def _run(self) -> None:
        while True:
            time.sleep(BEAT_SECONDS)
            reason = self.verdict(time.monotonic())
            if reason:
                log.critical("worker exiting with status %d: %s", EXIT_STATUS, reason)
                for handler in logging.getLogger().handlers:
                    handler.flush()
                sys.stderr.flush()
                self._exit(EXIT_STATUS)
                return


class StrandedMessages(ConnectionError):
    """Raised in the event loop: Celery reconnects on the transport's connection errors."""


def stranded_messages(consumer: Any) -> int:
    """How many messages the consumer holds unacknowledged beyond those its tasks hold (a
    task reserved, running or waiting for its countdown holds its message)."""
    qos = getattr(consumer.task_consumer.channel, "qos", None)
    if qos is None:  # a broker that keeps the count itself
        return 0
    room = qos.can_consume_max_estimate()
    if room is None:  # no prefetch limit
        return 0
    return max(qos.prefetch_count - room - len(state.requests), 0)


class _Heartbeat(bootsteps.StartStopStep):
    """A consumer step: the event loop's timer beats the watchdog while the consumer runs, and
    makes the consumer reconnect when messages stay stranded."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.tref: Any = None
        self.stranded_since: float | None = None

    def start(self, parent: Any) -> None:
        watchdog = _watchdogs.get(parent.app)
        # without an event loop (a green pool, a transport that has none; never with Redis,
        # whatever the pool) the timer is a thread: its beats would prove nothing, and only the
        # watchdog's rules about stopping apply
        if watchdog is None or parent.hub is None:
            return
        watchdog.beat()
        self.stranded_since = None
        self.tref = parent.timer.call_repeatedly(BEAT_SECONDS, self.tick, (parent, watchdog))
        if break_consumer_asked():
            _break_when_busy(parent)
        if fail_ack_asked():
            _fail_next_ack(parent)

    def tick(self, consumer: Any, watchdog: Watchdog) -> None:
        """Beat the watchdog; StrandedMessages once messages were stranded for a while."""
        watchdog.beat()
        stranded, now = stranded_messages(consumer), time.monotonic()
        if not stranded:
            self.stranded_since = None
        elif self.stranded_since is None:
            self.stranded_since = now
        elif now - self.stranded_since >= STRANDED_SECONDS:
            raise StrandedMessages(
                f"{stranded} message(s) unacknowledged with no task holding them (their "
                "acknowledgement failed): reconnecting gives them back to the queue"
            )

    def stop(self, parent: Any) -> None:
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None
        if (watchdog := _watchdogs.get(parent.app)) is not None:
            watchdog.paused()

    shutdown = stop


def _break_when_busy(consumer: Any) -> None:
    """Test fault (worker/fault_injection.py): once a task runs, make the event loop raise what
    a half-written result message did (a reader callback's error ends the loop, and the
    consumer with it)."""
    from celery.worker import state

    read, write = os.pipe()

    def corrupt(*_: Any) -> None:
        os.read(read, 1)
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "injected: a corrupt pool message")

    def check() -> None:
        if state.active_requests and break_consumer_now():
            consumer.hub.add_reader(read, corrupt)
            os.write(write, b"x")
            tref.cancel()

    tref = consumer.timer.call_repeatedly(BEAT_SECONDS, check)


def _fail_next_ack(consumer: Any) -> None:
    """Test fault (worker/fault_injection.py): once asked for, the next acknowledgement of a
    task's message fails as one to a Redis that stopped answering does."""
    qos = consumer.task_consumer.channel.qos
    acknowledge = qos.ack

    def ack(delivery_tag: str) -> None:
        if fail_ack_now():
            raise redis.TimeoutError("injected: Timeout reading from socket")
        acknowledge(delivery_tag)

    qos.ack = ack


_watchdogs: dict[Celery, Watchdog] = {}


def watch_workers(app: Celery, settings: Callable[[], Settings]) -> None:
    """Give each worker of `app` a watchdog from its start (`settings` is read then)."""
    app.steps["consumer"].add(_Heartbeat)

    def start(sender: Any, **_: Any) -> None:
        if sender.app is app:
            # a warm stop waits for running tasks, which the hard limit ends
            deadline = settings().task_hard_time_limit + VISIBILITY_MARGIN_SECONDS
            _watchdogs[app] = Watchdog(sender, deadline)
            _watchdogs[app].start()

    def stop_asked(**_: Any) -> None:
        if (watchdog := _watchdogs.get(app)) is not None:
            watchdog.stop_asked()

    signals.worker_init.connect(start, weak=False)
    signals.worker_shutting_down.connect(stop_asked, weak=False)
