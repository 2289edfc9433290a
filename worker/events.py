"""What a worker records about each job event, one log line (shared/logs.py) and its metrics
(worker/metrics.py) so that the two never disagree on what happened, and about loading its
models: every metric a worker exports is recorded here."""

from __future__ import annotations

import logging
from datetime import datetime
from urllib.parse import urlsplit

from shared.job_states import FailureCode
from shared.logs import log_job_event
from shared.store import Job
from worker.metrics import DROPPED, RETRIED, SKIPPED, SUCCEEDED, CallbackOutcome, worker_metrics

log = logging.getLogger("readface.worker")


def queue_wait_seconds(job: Job, started: datetime) -> float:
    """From the job's enqueue (created_at, written by the API) to `started`; clocks of two hosts
    a little apart could make it negative, which is read as no wait."""
    created = datetime.fromisoformat(job.created_at)
    return max((started - created).total_seconds(), 0.0)


def analysis_started(job: Job, tenant: str, started: datetime) -> None:
    """A run began (`job` as it started). Only a job's first run has waited in the queue since
    its enqueue: a retry or a redelivery has also waited for the runs before it."""
    fields: dict[str, object] = {"attempt": job.attempts}
    if job.attempts == 1 and job.created_at:
        wait = queue_wait_seconds(job, started)
        worker_metrics().queue_wait.observe(wait)
        fields["queue_wait_ms"] = round(wait * 1000, 1)
    log_job_event(log, "started", job.id, tenant, fields)


def analysis_ended(
    analysis_id: str,
    tenant: str,
    ended: bool,
    failure: tuple[FailureCode, str] | None,
    result: dict | None,
) -> None:
    """A run finished the pipeline; `ended` says whether its outcome was stored (False: the job
    was deleted or ended meanwhile, and it was dropped)."""
    metrics = worker_metrics()
    if result is not None:
        metrics.observe_result(result)
    fields: dict[str, object] = {}
    if not ended:
        outcome = event = DROPPED
    elif failure is not None:
        outcome, event = failure[0].value, "failed"
        fields = {"error_code": failure[0].value, "error_message": failure[1]}
    else:
        outcome = event = SUCCEEDED
    if result is not None:
        fields |= {"faces": len(result["faces"]), "total_ms": result["timings_ms"]["total"]}
    metrics.analyses.labels(outcome).inc()
    level = logging.WARNING if event == "failed" else logging.INFO
    log_job_event(log, event, analysis_id, tenant, fields, level)


def analysis_retried(analysis_id: str, tenant: str, error: BaseException) -> None:
    worker_metrics().analyses.labels(RETRIED).inc()
    detail = f"{type(error).__name__}: {error}"
    log_job_event(log, RETRIED, analysis_id, tenant, {"error": detail}, logging.WARNING)


def hard_limit_struck(analysis_id: str, tenant: str, strikes: int) -> None:
    """The hard limit killed a run that did not end the job: the sweeper sends it again
    (`strikes` 1), or another attempt holds it or it ended (0)."""
    fields = {"strikes": strikes}
    log_job_event(log, "hard_limit", analysis_id, tenant, fields, logging.WARNING)


def analysis_skipped(analysis_id: str, tenant: str) -> None:
    worker_metrics().analyses.labels(SKIPPED).inc()
    log_job_event(log, SKIPPED, analysis_id, tenant)


def callback_attempt(
    analysis_id: str,
    tenant: str,
    message_id: str,
    attempt: int,
    outcome: CallbackOutcome,
    url: str,
    detail: str,
) -> None:
    """One delivery attempt (1 = the first). Only the URL's host is logged: its path or query
    may hold the receiver's token."""
    worker_metrics().callbacks.labels(outcome.value, str(attempt)).inc()
    host = urlsplit(url).hostname or ""
    details = {
        "message_id": message_id,
        "attempt": attempt,
        "outcome": outcome.value,
        "host": host,
        "detail": detail.replace(url, host),
    }
    level = logging.INFO if outcome is CallbackOutcome.DELIVERED else logging.WARNING
    log_job_event(log, "callback", analysis_id, tenant, details, level)


def models_loaded(pack: str, engine: str, seconds: float) -> None:
    """A process loaded its model pack, warm-up included (a metric only: no job is involved)."""
    worker_metrics().model_load.labels(pack, engine).observe(seconds)
