"""The Flask app factory: `gunicorn 'api:create_app()'`. Never imports OpenCV, numpy or worker."""

from __future__ import annotations

import threading

import redis
from flask import Flask, Response, jsonify
from kombu.exceptions import OperationalError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from api.analyses import analyses_bp
from api.guard import install_guard
from api.metrics import Metrics
from api.operations import operations_bp
from api.request_body import install_body_spool
from api.uploads import FORM_OVERHEAD_BYTES, MAX_FORM_PARTS, UPLOADS_IN_MEMORY
from api.web import web_bp
from shared.blobs import BlobStoreFull, BlobUnavailable, open_blob_store
from shared.celery_app import create_celery_app
from shared.errors import ReadfaceError, Unavailable
from shared.logs import configure_logging
from shared.manifest import load_pack
from shared.settings import Settings, get_settings
from shared.store import Store

RETRY_AFTER_SECONDS = 5
# A full blob store frees room as jobs end, results expire and the blob sweeper passes.
FULL_RETRY_AFTER_SECONDS = 30


def create_app(settings: Settings | None = None) -> Flask:
    """Build the API for these settings (default: from READFACE_* env vars)."""
    settings = settings or get_settings()
    configure_logging(settings.log_format)
    app = Flask(__name__)
    # `/v1//analyses` is a 404 like any unknown path, not a 308 redirect with an HTML body.
    app.url_map.merge_slashes = False
    # Werkzeug refuses bodies over this before reading them (multipart framing allowance added).
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes + FORM_OVERHEAD_BYTES
    # Werkzeug 3.1 applies this to its multipart receive buffer as well as to text fields, so it
    # must hold a whole upload; the callback field's own, smaller bound is in api/uploads.py.
    app.config["MAX_FORM_MEMORY_SIZE"] = settings.max_upload_bytes + FORM_OVERHEAD_BYTES
    app.config["MAX_FORM_PARTS"] = MAX_FORM_PARTS
    if settings.proxy_hops:
        # Behind N reverse proxies the client is the Nth X-Forwarded-For entry from the right;
        # rate limits are per client address, so this must be right or everyone shares one.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops)  # type: ignore[method-assign]
    app.extensions["readface"] = {
        "settings": settings,
        "store": Store(settings),
        "blobs": open_blob_store(settings),
        "celery": create_celery_app(settings),
        "metrics": Metrics(settings),
        # Read once: every upload is checked against the current pack's results.
        "fingerprint": load_pack(settings.model_pack).version(settings.attributes),
        # a greenlet's semaphore under gevent (threading is patched before the app is imported)
        "upload_slots": threading.BoundedSemaphore(UPLOADS_IN_MEMORY),
    }
    install_body_spool(app)  # first: no view answers with part of a body unread
    install_guard(app)
    app.register_blueprint(analyses_bp)
    app.register_blueprint(operations_bp)
    app.register_blueprint(web_bp)
    _install_error_handlers(app)
    return app


def error_response(error: ReadfaceError) -> Response:
    """The contract's JSON error body, with Retry-After when the error has one."""
    response = jsonify({"error": {"code": error.code, "message": error.message}})
    response.status_code = error.status
    if error.retry_after:
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def _install_error_handlers(app: Flask) -> None:
    app.register_error_handler(ReadfaceError, error_response)

    @app.errorhandler(redis.RedisError)
    @app.errorhandler(OperationalError)
    def _backend_down(error: Exception) -> Response:
        app.logger.warning("backend unavailable: %s", error)
        return error_response(
            Unavailable(
                "The job store is unavailable; try again shortly.", retry_after=RETRY_AFTER_SECONDS
            )
        )

    @app.errorhandler(BlobUnavailable)
    def _blobs_down(error: BlobUnavailable) -> Response:
        app.logger.warning("blob store unavailable: %s", error)
        if isinstance(error, BlobStoreFull):
            message, retry_after = "The blob store is full", FULL_RETRY_AFTER_SECONDS
        else:
            message, retry_after = "The blob store is unavailable", RETRY_AFTER_SECONDS
        return error_response(
            Unavailable(f"{message}; try again shortly.", retry_after=retry_after)
        )

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        wrapped = ReadfaceError(error.description or error.name)
        wrapped.status = error.code or 500
        wrapped.code = _HTTP_CODES.get(wrapped.status, "http_error")
        response = error_response(wrapped)
        # Headers the status needs, such as Allow on a 405 (RFC 9110 section 15.5.6).
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        app.logger.exception("unexpected error")
        return error_response(ReadfaceError("The server failed unexpectedly."))


_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
}
