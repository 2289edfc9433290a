"""gunicorn's settings for the API (`gunicorn -c api/gunicorn_config.py 'api:create_app()'`).

gunicorn reads this file by path, in the master, before it forks: so it imports nothing of the
app at the top but the settings (the gevent worker monkey-patches the standard library when it
starts, and everything the app imports must come after that, for redis-py, kombu and boto3 to
cooperate).

One process with gevent's worker: each connection is a greenlet, so a long-poll waiting on Redis,
or a client sending slowly, costs a little memory and a descriptor, never a thread. gunicorn's
own parser frames every request (issue 25); api/request_body.py reads each body whole before the
app sees it.
"""

from __future__ import annotations

import functools
import json
import os
import resource
import socket
from http import HTTPStatus
from typing import Any

from gunicorn.http import errors
from gunicorn.http.body import ChunkedReader
from gunicorn.workers.ggevent import GeventWorker

from shared.settings import get_settings

_settings = get_settings()
bind = os.environ.get("READFACE_BIND", "0.0.0.0:8000")
workers = 1
# Connections served at once (long-polls, uploads being received, idle keep-alives); each needs a
# file descriptor, so the open-files limit must be above it.
worker_connections = _settings.api_connections
# The time a connection has to send a request's headers, and the longest an idle keep-alive
# connection is kept (gunicorn's gevent worker applies it to every request's head): then it is
# closed without an answer, as nginx does.
keepalive = max(1, round(_settings.api_header_timeout))
# The master restarts a worker that has not checked in for this long (its event loop is stuck).
timeout = 60
graceful_timeout = 10
# The request line may be 8190 bytes (gunicorn's most), so a 2048-character callback_url fits in
# the query with every ASCII character percent-encoded (MAX_REQUEST_LINE_BYTES, api/openapi.py).
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190


def on_starting(server: Any) -> None:
    """Raise the open-files limit (inherited by the worker) to what worker_connections needs,
    within the hard limit: a shell's default of 1,024 would refuse the 1,025th connection."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = worker_connections + 256  # Redis, the blob store, log files, temporary files
    if soft != resource.RLIM_INFINITY and soft < wanted:
        ceiling = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, ceiling), hard))


@functools.cache
def _max_body_bytes() -> int:
    # Imported here, in the worker, after gevent's monkey-patching (see the module docstring).
    from api.request_body import max_body_bytes

    return max_body_bytes(_settings)


class StrictChunkedReader(ChunkedReader):
    """gunicorn's chunked body reader, which also refuses a chunk-size line ended by a bare LF
    as soon as it has the line: gunicorn 27 refuses one in the head and in trailers, but here
    waits for a CRLF, so `5\nabcde\n0\n\n` held its request until the body deadline (issue 25)."""

    def parse_chunk_size(self, unreader: Any, data: bytes | None = None) -> Any:
        buf = bytearray(data or b"")
        while (end := buf.find(b"\n")) < 0 and len(buf) <= self.limit_chunk_size_line:
            self.read_into(unreader, buf)
        if end >= 0 and buf[end - 1 : end] != b"\r":
            raise errors.InvalidChunkSize(b"bare LF as line terminator")
        return super().parse_chunk_size(unreader, bytes(buf))


def pre_request(worker: Any, req: Any) -> None:
    """Chunked bodies are read by StrictChunkedReader (nothing of the body is read yet). A body
    declared larger than the API takes is refused from its headers (413, in api/request_body.py):
    the client is not told `100 Continue`, so it does not send it, and the connection closes
    after the answer rather than read the body to find the next request."""
    if req.body is not None and type(req.body.reader) is ChunkedReader:
        req.body.reader = StrictChunkedReader(req, req.unreader)
    length = next((value for name, value in req.headers if name == "CONTENT-LENGTH"), None)
    if length is not None and length.isdigit() and int(length) > _max_body_bytes():
        # gunicorn sends `100 Continue` when it builds the WSGI environ, from this flag.
        req._expected_100_continue = False
        req.force_close()


# What gunicorn answers by itself, for requests it cannot parse (the app never sees them); the
# first match wins. An over-long request line is 414 (RFC 9112 section 3) where gunicorn says 400.
_ERRORS: list[tuple[type[BaseException], int, str]] = [
    (errors.ConfigurationProblem, 500, "internal"),
    (errors.LimitRequestHeaders, 431, "headers_too_large"),
    (errors.LimitRequestLine, 414, "uri_too_long"),
    (errors.UnsupportedTransferCoding, 501, "not_implemented"),
    (errors.ExpectationFailed, 417, "expectation_failed"),
    (errors.ParseException, 400, "bad_request"),
]


def error_bytes(status: int, code: str, message: str) -> bytes:
    """A whole HTTP/1.1 answer with the contract's JSON error body; the connection closes."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


class JsonErrorGeventWorker(GeventWorker):
    """gunicorn's gevent worker, whose answers to unparseable requests carry the contract's JSON
    error body rather than HTML."""

    def handle_error(self, req: Any, client: socket.socket, addr: Any, exc: Exception) -> None:
        status, code = next(
            ((status, code) for kind, status, code in _ERRORS if isinstance(exc, kind)),
            (500, "internal"),
        )
        if status == 500:
            self.log.exception("Error handling request")
            message = "The server failed unexpectedly."
        else:
            self.log.warning("Invalid request from ip=%s: %s", (addr or ("",))[0], exc)
            message = f"The request could not be read: {exc}."
        try:
            client.sendall(error_bytes(status, code, message))
        except OSError:
            self.log.debug("Failed to send error message.")


worker_class = JsonErrorGeventWorker
