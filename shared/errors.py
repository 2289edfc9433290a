"""Domain errors that carry the contract's error code, message and HTTP status."""

from __future__ import annotations


class ReadfaceError(Exception):
    """An error the contract names: `code` is the JSON error code, `status` the HTTP status."""

    code = "internal"
    status = 500

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after  # seconds, sent as Retry-After (429, 503)


class BadRequest(ReadfaceError):
    code, status = "bad_request", 400


class Unauthorized(ReadfaceError):
    code, status = "unauthorized", 401


class NotFound(ReadfaceError):
    code, status = "not_found", 404


class NotReady(ReadfaceError):
    code, status = "not_ready", 409


class AnalysisFailed(ReadfaceError):
    code, status = "failed", 409


class TooLarge(ReadfaceError):
    code, status = "too_large", 413


class UnsupportedMediaType(ReadfaceError):
    code, status = "unsupported_media_type", 415


class InvalidImage(ReadfaceError):
    code, status = "invalid_image", 422


class InvalidCallback(ReadfaceError):
    code, status = "invalid_callback", 422


class RateLimited(ReadfaceError):
    code, status = "rate_limited", 429


class Unavailable(ReadfaceError):
    code, status = "unavailable", 503


class RequestTimeout(ReadfaceError):
    code, status = "request_timeout", 408
