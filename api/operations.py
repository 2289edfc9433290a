"""Health, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from api import context
from api.openapi import openapi_document
from shared.celery_app import ANALYZE_QUEUE
from shared.errors import Unavailable

operations_bp = Blueprint("operations", __name__)
PING_TIMEOUT_SECONDS = 1.0


@operations_bp.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@operations_bp.get("/readyz")
def readyz() -> Response:
    try:
        context.store().redis.ping()
    except Exception as error:
        raise Unavailable(
            f"Not ready: Redis does not answer ({type(error).__name__}).", retry_after=5
        ) from None
    # Answered by each worker's main process, so a busy worker still counts as alive. Callbacks
    # have workers of their own, which cannot analyse: one consuming `analyze` must answer.
    try:
        context.celery().control.broadcast(
            "active_queues", reply=True, timeout=PING_TIMEOUT_SECONDS, callback=_stop_at_analyzer
        )
    except _AnalyzerAnswered:
        return jsonify({"status": "ready"})
    raise Unavailable("Not ready: no worker consuming analyses answered.", retry_after=5)


class _AnalyzerAnswered(Exception):
    pass


def _stop_at_analyzer(reply: dict[str, list[dict[str, object]]]) -> None:
    """Called for each worker's answer as it arrives; raising is the one way to stop Celery
    collecting answers until its timeout, so the first analysis worker's answer ends the wait."""
    if any(q["name"] == ANALYZE_QUEUE for queues in reply.values() for q in queues):
        raise _AnalyzerAnswered


@operations_bp.get("/metrics")
def metrics() -> Response:
    body = context.metrics().render(context.store())
    return Response(body, mimetype="text/plain; version=0.0.4")


@operations_bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document(context.settings()))
