"""The gunicorn worker the API runs: gthread, but the errors gunicorn answers by itself (requests
it cannot parse, before the app sees them) carry the contract's JSON error body, not HTML."""

from __future__ import annotations

import json
import socket
import ssl
from http import HTTPStatus

from gunicorn import util
from gunicorn.http import errors
from gunicorn.workers.gthread import ThreadWorker

from shared.errors import BadRequest, ReadfaceError

# The statuses gunicorn's own Worker.handle_error gives (gunicorn/workers/base.py), except that an
# over-long request line is 414 (RFC 9112 section 3) where gunicorn says 400.
_SPECIFIC: list[tuple[type[BaseException], int, str]] = [
    (errors.LimitRequestHeaders, 431, "headers_too_large"),
    (errors.LimitRequestLine, 414, "uri_too_long"),
    (errors.UnsupportedTransferCoding, 501, "not_implemented"),
    (errors.ConfigurationProblem, ReadfaceError.status, ReadfaceError.code),
    (errors.ForbiddenProxyRequest, 403, "forbidden"),
    (ssl.SSLError, 403, "forbidden"),
    (errors.ParseException, BadRequest.status, BadRequest.code),
]


def describe_error(exc: BaseException) -> tuple[int, str, str]:
    """Status, error code and message for an error gunicorn met while reading a request."""
    status, code = next(
        ((status, code) for kind, status, code in _SPECIFIC if isinstance(exc, kind)),
        (ReadfaceError.status, ReadfaceError.code),
    )
    if status == ReadfaceError.status:
        return status, code, "The server failed unexpectedly."
    return status, code, f"The request could not be read: {exc}."


def error_bytes(status: int, code: str, message: str) -> bytes:
    """A whole HTTP/1.1 response with the contract's JSON error body; the connection closes."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


class JsonErrorThreadWorker(ThreadWorker):
    """gunicorn's gthread worker with JSON error responses for unparseable requests."""

    def handle_error(
        self, req: object, client: socket.socket, addr: tuple[str, int] | None, exc: Exception
    ) -> None:
        status, code, message = describe_error(exc)
        if status != ReadfaceError.status:
            self.log.warning("Invalid request from ip=%s: %s", (addr or ("",))[0], exc)
        else:
            self.log.exception("Error handling request")
        try:
            util.write_nonblock(client, error_bytes(status, code, message))
        except OSError:
            self.log.debug("Failed to send error message.")
