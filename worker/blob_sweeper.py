"""The blob sweeper: every READFACE_BLOB_SWEEP_SECONDS one analysis worker (whichever takes the
turn in Redis first) sweeps the blob store (shared/blobs/sweep.py), on a thread of its main
process, from `worker_ready` to `worker_shutdown`, with connections of its own."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from celery import Celery, signals

from shared.blobs import BlobStore, open_blob_store
from shared.blobs.sweep import sweep_blobs
from shared.celery_app import ANALYZE_QUEUE
from shared.settings import Settings
from shared.store import Store

log = logging.getLogger("readface.sweeper")


class BlobSweeper:
    def __init__(self, store: Store, blobs: BlobStore, interval: float) -> None:
        self.store = store
        self.blobs = blobs
        self.interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="readface-blobs", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            try:
                if self.store.take_blob_sweep(self.interval):
                    swept = sweep_blobs(self.store, self.blobs)
                    log.info(
                        "blob sweep: %d expired and %d orphaned blobs deleted, %d kept (%d bytes)",
                        swept.expired,
                        swept.orphaned,
                        swept.kept,
                        swept.kept_bytes,
                    )
            # Redis or the blob store away: this pass is lost, and another host takes the next.
            except Exception:
                log.exception("blob sweep failed; trying again in %g s", self.interval)


def sweep_blobs_in_workers(app: Celery, settings: Callable[[], Settings]) -> None:
    """Run a blob sweeper in each worker of `app` that consumes analyses, stopped with it."""
    running: list[BlobSweeper] = []

    def start(sender: Any, **_: Any) -> None:
        if sender.app is app and ANALYZE_QUEUE in app.amqp.queues.consume_from:
            config = settings()
            sweeper = BlobSweeper(Store(config), open_blob_store(config), config.blob_sweep_seconds)
            sweeper.start()
            running.append(sweeper)

    def stop(**_: Any) -> None:
        while running:
            running.pop().stop()

    signals.worker_ready.connect(start, weak=False)
    signals.worker_shutdown.connect(stop, weak=False)
