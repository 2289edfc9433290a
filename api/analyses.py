"""The /v1/analyses endpoints: validate, call the store, map the outcome to a status code."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, g, jsonify, request

from api import context
from api.uploads import read_upload
from shared.analysis_resource import analysis_resource
from shared.callbacks.addresses import check_callback_url
from shared.celery_app import ANALYZE_TASK, CALLBACK_TASK, task_args
from shared.errors import (
    AnalysisFailed,
    BadRequest,
    InvalidCallback,
    NotFound,
    NotReady,
    RateLimited,
    ReadfaceError,
)
from shared.imageinfo import read_image_info
from shared.job_states import JobStatus, analysis_id_for, is_analysis_id
from shared.logs import log_job_event
from shared.store import MAX_CALLBACKS_PER_JOB, Callback, ClaimOutcome, Job, StoredAnalysis
from shared.work_quota import job_cost

analyses_bp = Blueprint("analyses", __name__, url_prefix="/v1/analyses")
log = logging.getLogger("readface.api")
MAX_WAIT_SECONDS = 30
# An analysis takes well under a second a photo: a client over its quota can retry soon.
QUOTA_RETRY_AFTER_SECONDS = 2


def _resource_response(analysis: StoredAnalysis, status: int) -> Response:
    response = jsonify(analysis_resource(analysis))
    response.status_code = status
    if status == 202:
        response.headers["Location"] = f"/v1/analyses/{analysis.job.id}"
    return response


def _checked_id(analysis_id: str) -> str:
    if not is_analysis_id(analysis_id):
        raise BadRequest("An analysis id is 64 lowercase hexadecimal characters.")
    return analysis_id


def _not_found(analysis_id: str) -> NotFound:
    return NotFound(f"No analysis {analysis_id} (unknown, deleted or expired).")


def _job_or_404(analysis_id: str) -> Job:
    job = context.tenant_store().job(_checked_id(analysis_id))
    if job is None:
        raise _not_found(analysis_id)
    return job


@analyses_bp.post("")
def submit() -> Response:
    settings = context.settings()
    upload = read_upload(request, settings.max_upload_bytes)
    info = read_image_info(upload.data, settings.max_pixels)  # 415/422 before anything is stored
    callback = None
    if upload.callback_url:
        url = check_callback_url(upload.callback_url, settings.callback_allow_private)
        callback = Callback.for_url(url)
    analysis_id = analysis_id_for(upload.data)
    analyses = context.analyses()
    cost = job_cost(len(upload.data), info.pixels)
    claim = analyses.offer(
        analysis_id, upload.data, context.fingerprint(), callback, g.client, cost
    )
    if claim.analysis is None:
        raise _refusal(claim.outcome, settings.max_queued_bytes_per_client)
    if claim.outcome is ClaimOutcome.CLAIMED:
        store = analyses.store
        primary = store.primary()  # the Redis primary the claim went to (Sentinel fails over)
        try:
            context.celery().send_task(ANALYZE_TASK, args=task_args(g.tenant, analysis_id))
            store.confirm_enqueued(claim.analysis.job, primary)
        except Exception:
            analyses.withdraw(claim.analysis.job)
            raise
    elif claim.outcome is ClaimOutcome.STORED and callback is not None:
        # the analysis is done: deliver to the new URL at once
        context.celery().send_task(
            CALLBACK_TASK, args=task_args(g.tenant, analysis_id, callback.url, callback.message_id)
        )
    log_job_event(
        log,
        "received",
        analysis_id,
        g.tenant,
        {
            "outcome": claim.outcome.value,
            "status": claim.analysis.job.status.value,
            "bytes": len(upload.data),
            "callback": callback is not None,
        },
    )
    return _resource_response(claim.analysis, 200 if claim.outcome is ClaimOutcome.STORED else 202)


def _refusal(outcome: ClaimOutcome, max_queued_bytes: int) -> ReadfaceError:
    if outcome is ClaimOutcome.CALLBACKS_FULL:
        return InvalidCallback(
            f"This analysis is in flight with {MAX_CALLBACKS_PER_JOB} callbacks already, the "
            "most it takes; poll it instead, or send the callback after it ends."
        )
    return RateLimited(
        f"Your uploads waiting for analysis add up to the limit of {max_queued_bytes:,} bytes "
        "(each counts at least its work: its pixels and a minimum per job); "
        "send more when some have finished.",
        retry_after=QUOTA_RETRY_AFTER_SECONDS,
    )


@analyses_bp.get("/<analysis_id>")
def get(analysis_id: str) -> Response:
    wait = _wait_seconds(request.args.get("wait"))
    analysis = context.tenant_store().wait_for_end(_checked_id(analysis_id), wait)
    if analysis is None:
        raise _not_found(analysis_id)
    return _resource_response(analysis, 200)


def _wait_seconds(value: str | None) -> float:
    """The `wait` query parameter: seconds from 0 to 30 (absent means 0)."""
    if value is None:
        return 0.0
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= MAX_WAIT_SECONDS:  # also refuses nan
        raise BadRequest(f"wait must be a number of seconds from 0 to {MAX_WAIT_SECONDS}.")
    return seconds


@analyses_bp.get("/<analysis_id>/annotated")
def annotated(analysis_id: str) -> Response:
    job = _job_or_404(analysis_id)
    if job.status is JobStatus.FAILED:
        raise AnalysisFailed(f"Analysis {analysis_id} failed: {job.error_message}")
    if job.status is not JobStatus.SUCCEEDED:
        raise NotReady(f"Analysis {analysis_id} is {job.status.value}; try again when it is done.")
    image = context.analyses().annotated_image(job)
    if image is None:
        raise NotFound(f"The annotated image of {analysis_id} has expired.")
    response = Response(image, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


@analyses_bp.delete("/<analysis_id>")
def delete(analysis_id: str) -> Response:
    if not context.analyses().delete(_checked_id(analysis_id)):
        raise _not_found(analysis_id)
    return Response(status=204)
