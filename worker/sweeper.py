"""The sweeper: sends again the analyses whose broker message was lost, so that none waits forever.

Every worker that runs analyses runs one, in a thread of its main process from `worker_ready` to
`worker_shutdown`. Every few seconds it asks the store for the due jobs (shared/store/sweep.py):
running past their attempt's lease, or sent a lease ago and no longer in the queue. The store
stamps each one as sent in the same atomic step, so sweepers on many hosts need no lock between
them and never send a job twice in one round; and a second message for a job is harmless anyway,
because an attempt holds its running job for its lease and an ended job's upload is gone.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from celery import Celery, signals

from shared.celery_app import ANALYZE_QUEUE, ANALYZE_TASK, RESTORE_SWEEP_SECONDS, task_args
from shared.logs import log_job_event
from shared.settings import Settings
from shared.store import DueJob, Store

log = logging.getLogger("readface.sweeper")
# Jobs taken in one step: a step runs inside Redis and blocks it meanwhile.
STEP_LIMIT = 100


class Sweeper:
    """Sends the due jobs again, every `interval` seconds, on its own thread and connection."""

    def __init__(self, store: Store, app: Celery, interval: float = RESTORE_SWEEP_SECONDS) -> None:
        self.store = store
        self.app = app
        self.interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="readface-sweeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=self.interval + 10)

    def sweep(self) -> list[DueJob]:
        """One round: take every due job and send it again, to the head of the queue (the
        oldest first); the jobs sent."""
        sent: list[DueJob] = []
        more = True
        while more:
            due, more = self.store.take_due(ANALYZE_QUEUE, STEP_LIMIT)
            if not due:
                break
            task_ids: list[str] = []
            try:
                self._send(due, task_ids)
            except BaseException:
                self.store.give_back(due[len(task_ids) :])
                raise
            self.store.to_front(ANALYZE_QUEUE, task_ids[::-1])
            sent += due
        return sent

    def _send(self, due: list[DueJob], task_ids: list[str]) -> None:
        """A message for each job, its task id appended to `task_ids` once sent. On a broker
        connection of this round's own: the app's pooled producers share the worker's broker
        connection, and after a partition one of their channels was left without a connection
        (kombu raised AttributeError, which its retries do not catch)."""
        with self.app.connection_for_write() as connection:
            for job in due:
                args = task_args(job.tenant, job.id)
                task_ids.append(
                    self.app.send_task(ANALYZE_TASK, args=args, connection=connection).id
                )
                log_job_event(log, "resent", job.id, job.tenant, level=logging.WARNING)

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            try:
                self.sweep()
            # Redis or the broker away, or anything else: this round is lost, not the sweeper.
            # A job taken but not sent is given back, due at the next round (or, if Redis was
            # away too, one lease later).
            except Exception:
                log.exception("sweep failed; trying again in %g s", self.interval)


def run_in_workers(app: Celery, settings: Callable[[], Settings]) -> None:
    """Start a sweeper in each worker of `app` that consumes analyses, and stop it with it;
    `settings` is read as the worker starts."""
    running: list[Sweeper] = []

    def start(sender: Any, **_: Any) -> None:
        if sender.app is app and ANALYZE_QUEUE in app.amqp.queues.consume_from:
            # a connection of its own: pool processes forked later never share it
            sweeper = Sweeper(Store(settings()), app)
            sweeper.start()
            running.append(sweeper)

    def stop(**_: Any) -> None:
        while running:
            running.pop().stop()

    signals.worker_ready.connect(start, weak=False)
    signals.worker_shutdown.connect(stop, weak=False)
