"""Health, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from api import context
from api.openapi import openapi_document
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
    # Answered by each worker's main process, so a busy worker still counts as alive.
    if not context.celery().control.ping(timeout=PING_TIMEOUT_SECONDS, limit=1):
        raise Unavailable("Not ready: no worker answered a ping.", retry_after=5)
    return jsonify({"status": "ready"})


@operations_bp.get("/metrics")
def metrics() -> Response:
    body = context.metrics().render(context.store())
    return Response(body, mimetype="text/plain; version=0.0.4")


@operations_bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document(context.settings()))
