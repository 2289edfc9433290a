"""Celery tasks: thin shells that read from the store, call the pipeline, write back.

Start a worker with `celery -A worker.tasks worker -Q analyze,callbacks`, or one worker per
queue so that slow callback receivers never hold analysis capacity (`readface up` does).
"""

from __future__ import annotations

import functools
import logging
import os
import random
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import cv2
import redis
from celery import Task, signals
from celery.exceptions import TimeLimitExceeded

from shared.blobs import BlobStore, BlobUnavailable, check_blob_url, open_blob_store
from shared.blobs.analyses import AnalysisBlobs
from shared.callbacks.delivery import DROPPED, DeliveryFailed, backoff_seconds, deliver
from shared.callbacks.signing import check_secret
from shared.celery_app import ANALYZE_QUEUE, ANALYZE_TASK, CALLBACK_TASK, create_celery_app
from shared.errors import InvalidCallback, ReadfaceError
from shared.logs import configure_logging
from shared.manifest import load_pack
from shared.settings import Settings, get_settings
from shared.store import Callback, Store
from worker import events
from worker.blob_sweeper import sweep_blobs_in_workers
from worker.failures import HARD_LIMIT_STRIKES, failure_for
from worker.fault_injection import pause_at
from worker.memory_limit import limit_memory
from worker.metrics import CallbackOutcome, forget_process, prepare_metrics, worker_metrics
from worker.models.engine import check_engine
from worker.packs import PackVerificationError, verify_pack
from worker.pipeline import Pipeline, load_pipeline
from worker.sweeper import run_in_workers
from worker.time_limit import AnalysisTimeLimit, time_limit
from worker.watchdog import watch_workers

log = logging.getLogger("readface.worker")


@functools.cache
def settings() -> Settings:
    """The worker's settings, read from the environment once, when first needed: as the worker
    starts and its app reads its configuration, not when this module is imported."""
    return get_settings()


app = create_celery_app(settings)
run_in_workers(app, settings)
watch_workers(app, settings)
sweep_blobs_in_workers(app, settings)

_pipeline: Pipeline | None = None
_store: Store | None = None
_blobs: BlobStore | None = None


def pipeline() -> Pipeline:
    """This process's pipeline, loaded once (after the fork, in worker_process_init)."""
    global _pipeline
    if _pipeline is None:
        # worker_init verified the files before the pool forked; no need to hash them again
        config, started = settings(), time.perf_counter()
        _pipeline = load_pipeline(config, verified=True)
        events.models_loaded(config.model_pack, config.engine, time.perf_counter() - started)
    return _pipeline


def store() -> Store:
    global _store
    if _store is None:
        _store = Store(settings())
    return _store


def analysis_blobs(tenant: str) -> AnalysisBlobs:
    """A tenant's analyses: this process's store and blob store (opened when first needed)."""
    global _blobs
    if _blobs is None:
        _blobs = open_blob_store(settings())
    return AnalysisBlobs(store().for_tenant(tenant), _blobs)


# False in a worker that only delivers callbacks: it needs no model files and loads none.
_runs_analyses = True


@signals.worker_init.connect
def _check_before_start(sender: Any, **_: Any) -> None:
    """Refuse to start, naming each bad file or setting, before any process takes work."""
    global _runs_analyses
    _runs_analyses = ANALYZE_QUEUE in sender.app.amqp.queues.consume_from
    try:
        configure_logging(settings().log_format)
        # the Redis errors the task retries by itself (autoretry_for) count against it too
        analyze.max_retries = settings().analyze_max_retries
        if _runs_analyses:
            verify_pack(load_pack(settings().model_pack), settings().model_dir)
            check_engine(settings().engine, settings().precision)
        check_secret(settings().webhook_secret)
        check_blob_url(settings().blob_url)
        prepare_metrics(settings().worker_metrics_bind)
    except (PackVerificationError, ValueError) as error:
        print(f"readface worker: {error}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None


@signals.worker_process_init.connect
def _load_models(**_: Any) -> None:
    # One OpenCV thread per process: throughput comes from one process per core.
    cv2.setNumThreads(1)
    if _runs_analyses:
        pipeline()
        limit_memory(settings().worker_memory_mb)


@signals.worker_process_shutdown.connect
def _forget_metrics(**_: Any) -> None:
    forget_process(os.getpid())


# The blob store away (S3 unreachable, a disk failing) is waited out for a few minutes, longer
# than other errors: the job's upload is safe in the store and the job can wait for it.
BLOB_MAX_RETRIES = 12
BLOB_RETRY_MAX_SECONDS = 30


class AnalyzeTask(Task):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # The worker has pushed the request already; Task.__call__ would push a bare one
        # (Celery's docs call run() the same way in a custom __call__).
        try:
            return self.run(*args, **kwargs)
        except BlobUnavailable as error:
            backoff = min(2.0**self.request.retries, BLOB_RETRY_MAX_SECONDS)
            raise self.retry(
                exc=error, countdown=backoff * random.uniform(0.5, 1), max_retries=BLOB_MAX_RETRIES
            ) from error

    def on_failure(
        self, exc: Exception, task_id: str, args: tuple, kwargs: dict, einfo: object
    ) -> None:
        """An analysis that ends by raising still ends its job, which would otherwise wait,
        running, until its upload expired: a Redis error after its retries, or the hard limit
        (Celery calls this in the main process once it killed the child) on its second strike
        (worker/failures.py says why not the first). failure_for says which."""
        analysis_id, tenant = attempted_job(task_id, args)
        if isinstance(exc, TimeLimitExceeded):
            strikes = store().for_tenant(tenant).strike_hard_limit(analysis_id, task_id)
            if strikes < HARD_LIMIT_STRIKES:  # 0: this attempt no longer holds the job
                events.hard_limit_struck(analysis_id, tenant, strikes)
                return
        failure = failure_for(exc, settings())
        ended = analysis_blobs(tenant).fail(analysis_id, *failure)
        events.analysis_ended(analysis_id, tenant, ended is not None, failure, None)
        if ended is not None:
            enqueue_callbacks(analysis_id, tenant, ended.callbacks)

    def on_retry(
        self, exc: Exception, task_id: str, args: tuple, kwargs: dict, einfo: object
    ) -> None:
        events.analysis_retried(*attempted_job(task_id, args), exc)


def attempted_job(task_id: str, args: tuple) -> tuple[str, str]:
    """The id and tenant of the job an analysis message's attempt ran: the one it dispatched
    (shared/store/dispatch.py), else the one it names."""
    started = store().attempt_job(task_id)
    if started:
        return started.id, started.tenant
    return args[0], args[1] if len(args) > 1 else ""  # no tenant argument: the scope without keys


# A Redis blip while reading the upload or writing the outcome is retried like any other
# transient error; errors of the pipeline itself are handled inside the task.
@app.task(
    name=ANALYZE_TASK,
    bind=True,
    base=AnalyzeTask,
    autoretry_for=(redis.RedisError,),
    retry_backoff=True,
    retry_jitter=True,
)
def analyze(self: Task, analysis_id: str, tenant: str = "") -> str:
    """Analyse the uploaded bytes of the job whose turn it is, and store the outcome: the
    message is a ticket, and the id of a tenant it names ("" is the scope without API keys, which
    task_args leaves out of the message) is run when no other job waits (see
    shared/store/dispatch.py)."""
    started = store().dispatch(analysis_id, tenant, self.request.id)
    if started is None:
        events.analysis_skipped(analysis_id, tenant)
        return "skipped: not pending (deleted, expired, done, or another attempt runs it)"
    job, tenant = started.job, started.tenant
    analysis_id, jobs = job.id, analysis_blobs(tenant)
    data = jobs.upload_of(job)  # UploadMissing ends the job as `internal` (on_failure)
    pause_at("upload", job.attempts)
    events.analysis_started(job, tenant, datetime.now(UTC))
    failure, result = None, None
    try:
        # the limit is armed around the pipeline alone (worker/time_limit.py says why)
        limit = settings().task_soft_time_limit
        with worker_metrics().in_progress.track_inprogress(), time_limit(limit):
            analysis = pipeline().analyze(data)
        pause_at("outcome", job.attempts)
    except (ReadfaceError, AnalysisTimeLimit) as error:
        failure = failure_for(error, settings())
        ended = jobs.fail(analysis_id, *failure)
    except Exception as error:
        if self.request.retries < settings().analyze_max_retries:
            raise self.retry(countdown=2**self.request.retries, exc=error) from error
        log.exception("analysis %s failed for good", analysis_id)
        failure = failure_for(error, settings())
        ended = jobs.fail(analysis_id, *failure)
    else:
        result = analysis.result
        ended = jobs.succeed(analysis_id, analysis.result, analysis.annotated_jpeg)
    events.analysis_ended(analysis_id, tenant, ended is not None, failure, result)
    if ended is None:
        return "dropped: the job was deleted or ended meanwhile"
    enqueue_callbacks(analysis_id, tenant, ended.callbacks)
    return "done"


def enqueue_callbacks(analysis_id: str, tenant: str, callbacks: Sequence[Callback]) -> None:
    """One delivery task per callback the job had as it ended (callbacks join a job in flight
    up to its end), with the message id given at submission."""
    for callback in callbacks:
        deliver_callback.apply_async(args=[analysis_id, callback.url, callback.message_id, tenant])


@app.task(name=CALLBACK_TASK, bind=True, max_retries=None)
def deliver_callback(
    self: Task, analysis_id: str, url: str, message_id: str, tenant: str = ""
) -> str:
    """POST the tenant's analysis to one URL; retried with backoff and jitter, same webhook-id
    each time."""
    attempt = self.request.retries

    def attempted(outcome: CallbackOutcome, detail: str) -> None:
        events.callback_attempt(analysis_id, tenant, message_id, attempt + 1, outcome, url, detail)

    try:
        delivered = deliver(store().for_tenant(tenant), analysis_id, url, message_id)
    except InvalidCallback as error:
        attempted(CallbackOutcome.REFUSED, error.message)
        return f"refused: {error.message}"
    except DeliveryFailed as error:
        if attempt + 1 >= settings().callback_max_attempts:
            attempted(CallbackOutcome.GAVE_UP, str(error))
            return f"gave up: {error}"
        attempted(CallbackOutcome.FAILED, str(error))
        raise self.retry(countdown=backoff_seconds(settings(), attempt), exc=error) from error
    dropped = delivered == DROPPED
    attempted(CallbackOutcome.DROPPED if dropped else CallbackOutcome.DELIVERED, delivered)
    return delivered
