"""The workers' Prometheus metrics, in prometheus-client's multiprocess mode.

A prefork worker is one main process and N pool processes that come and go (replaced after a
crash or a hard time limit), so no pool process can own a port. Each process writes its values to
files in PROMETHEUS_MULTIPROC_DIR (prometheus-client reads that variable when it is imported, so
it must be in the worker's environment), and the worker's main process serves the sum of all of
them on READFACE_WORKER_METRICS_BIND: one scrape target per worker (container, pod or `celery
worker` command), each with a directory of its own.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from shared.job_states import FailureCode

MULTIPROC_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

STAGES = ("decode", "detect", "align", "classify", "annotate")
SUCCEEDED, RETRIED, SKIPPED, DROPPED = "succeeded", "retried", "skipped", "dropped"
# How a task run ended: succeeded, one of the contract's failure codes, retried (an unexpected
# error, run again), skipped (the job was not pending: deleted, expired, done, or run by another
# attempt) or dropped (the job was deleted or ended while the pipeline ran; nothing written).
ANALYSIS_OUTCOMES = (SUCCEEDED, *(code.value for code in FailureCode), RETRIED, SKIPPED, DROPPED)


class CallbackOutcome(StrEnum):
    """How one delivery attempt ended (the metric's `outcome` label and the log line's)."""

    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # retried later
    GAVE_UP = "gave_up"  # the last attempt failed
    REFUSED = "refused"  # the URL now resolves to a private address
    DROPPED = "dropped"  # the analysis was deleted: nothing sent


# A stage takes milliseconds on a portrait and seconds on a 48 MP group photo.
STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# An upload waits at most READFACE_UPLOAD_TTL (1 h) for a worker.
QUEUE_WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
# A result holds at most 200 faces; 0 counts the images where none was found.
FACE_BUCKETS = (0, 1, 2, 3, 5, 10, 20, 50, 100, 200)
MODEL_LOAD_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class WorkerMetrics:
    """The metrics one worker process records (its own registry: what is served is the sum of
    every process's files, collected by the main process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.analyses = Counter(
            "readface_worker_analyses",
            "Analysis task runs, by how they ended",
            ["outcome"],
            registry=self.registry,
        )
        self.stage_seconds = Histogram(
            "readface_worker_stage_seconds",
            "Time in each pipeline stage (the result's timings_ms)",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=self.registry,
        )
        self.faces = Histogram(
            "readface_worker_faces_per_image",
            "Faces found in each analysed image",
            buckets=FACE_BUCKETS,
            registry=self.registry,
        )
        self.queue_wait = Histogram(
            "readface_worker_queue_wait_seconds",
            "From the job's enqueue (created_at) to its first start by a worker",
            buckets=QUEUE_WAIT_BUCKETS,
            registry=self.registry,
        )
        self.model_load = Histogram(
            "readface_worker_model_load_seconds",
            "Loading a process's model pack onto its engine, warm-up pass included",
            ["pack", "engine"],
            buckets=MODEL_LOAD_BUCKETS,
            registry=self.registry,
        )
        self.callbacks = Counter(
            "readface_worker_callback_deliveries",
            "Callback delivery attempts, by outcome and attempt number (1 = first)",
            ["outcome", "attempt"],
            registry=self.registry,
        )
        # livesum: a pool process that dies stops counting (see forget_dead_processes).
        self.in_progress = Gauge(
            "readface_worker_analyses_in_progress",
            "Analyses in the pipeline right now",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        # Series at 0 from the start, so rates and ratios have data before the first of each.
        for outcome in ANALYSIS_OUTCOMES:
            self.analyses.labels(outcome)
        for stage in STAGES:
            self.stage_seconds.labels(stage)

    def observe_result(self, result: dict) -> None:
        """A result's stage timings and face count."""
        timings = result["timings_ms"]
        for stage in STAGES:
            self.stage_seconds.labels(stage).observe(timings[stage] / 1000)
        self.faces.observe(len(result["faces"]))


@functools.cache
def worker_metrics() -> WorkerMetrics:
    """This process's metrics, created at first use (a pool process inherits none it can keep:
    prometheus-client reopens its files under the child's pid)."""
    return WorkerMetrics()


def prepare_metrics(bind: str) -> None:
    """In a worker's main process, before its pool starts: empty the multiprocess directory of
    an earlier run's files (creating it), and with `bind` (host:port) serve the sum of every
    process's metrics there. ValueError when the directory is not set while `bind` is, or the
    address cannot be had."""
    directory = os.environ.get(MULTIPROC_DIR_VARIABLE)
    if directory:
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
    if not bind:
        return
    if not directory:
        raise ValueError(
            f"READFACE_WORKER_METRICS_BIND needs {MULTIPROC_DIR_VARIABLE}: a directory of this "
            "worker's own, where each of its processes writes its metrics."
        )
    host, port = metrics_address(bind)
    registry = CollectorRegistry()
    _WorkerProcessesCollector(registry, directory)
    try:
        start_http_server(port, host, registry)
    except OSError as error:
        raise ValueError(f"READFACE_WORKER_METRICS_BIND {bind}: {error.strerror}") from None


def metrics_address(bind: str) -> tuple[str, int]:
    """READFACE_WORKER_METRICS_BIND as (host, port); no host is every address."""
    host, _, port = bind.rpartition(":")
    if not port.isdigit() or int(port) > 65535:
        raise ValueError(f"READFACE_WORKER_METRICS_BIND is host:port, not {bind!r}.")
    return host.strip("[]") or "0.0.0.0", int(port)


def forget_process(pid: int) -> None:
    """Drop a process's live gauges (it is exiting); its counters and histograms stay counted."""
    directory = os.environ.get(MULTIPROC_DIR_VARIABLE)
    if directory:
        mark_process_dead(pid, directory)


def forget_dead_processes(directory: str) -> None:
    """Drop the live gauges of processes that died without saying so: a pool process killed by
    the hard time limit or the OOM killer never runs its shutdown signal."""
    for path in Path(directory).glob("gauge_live*_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            mark_process_dead(pid, directory)
        except PermissionError:
            pass  # alive, someone else's


class _WorkerProcessesCollector(MultiProcessCollector):
    """Every process's files of one worker, without the live gauges of the dead."""

    def __init__(self, registry: CollectorRegistry, directory: str) -> None:
        super().__init__(registry, directory)
        self._directory = directory

    def collect(self) -> Iterable[Metric]:
        forget_dead_processes(self._directory)
        return super().collect()  # type: ignore[no-any-return]
