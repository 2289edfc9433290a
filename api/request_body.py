"""Every request body read whole before a view sees it, as nginx buffers for its upstream: the
first SPOOL_MEMORY_BYTES in memory and the rest in an unlinked temporary file, within the size
limit and the body deadline. gunicorn frames the body (Content-Length or chunked); a framing
error it finds is the client's (400), never the app's (500), and the connection then closes.

Reading it all first also means no view answers while part of a body is still unread, which the
server would otherwise have to read on to find the next request of the connection.
"""

from __future__ import annotations

import tempfile
from typing import IO, Any

import gevent
from flask import Flask, g, request
from gunicorn.http.errors import NoMoreData, ParseException

from api import context
from api.uploads import FORM_OVERHEAD_BYTES
from shared.errors import BadRequest, RequestTimeout, TooLarge
from shared.settings import Settings

# Bodies up to this stay in memory, larger ones go to disk as they arrive; with gunicorn's read
# buffer, a connection sending a body holds at most 2 x 64 KiB of the API's memory (2,000 at
# once: 256 MiB). gunicorn reads what it is asked for in one piece, so larger reads buy no CPU.
SPOOL_MEMORY_BYTES = 64 * 1024
READ_BYTES = 64 * 1024


def max_body_bytes(settings: Settings) -> int:
    """The largest request body the API reads: an upload and its multipart framing."""
    return settings.max_upload_bytes + FORM_OVERHEAD_BYTES


def install_body_spool(app: Flask) -> None:
    """Read each request's body before anything else looks at the request (the first hook)."""

    @app.before_request
    def _spool() -> None:
        settings = context.settings()
        g.body = spool_body(request.environ, max_body_bytes(settings), settings.api_body_timeout)

    @app.teardown_request
    def _close(_: BaseException | None) -> None:
        if (body := g.pop("body", None)) is not None:
            body.close()  # a temporary file is removed now, not when it is collected


def spool_body(environ: dict[str, Any], max_bytes: int, timeout: float) -> IO[bytes] | None:
    """Replace the WSGI input by a spool of the whole body (returned; None if the request has
    no body), read within `timeout` seconds from now; TooLarge over `max_bytes`,
    RequestTimeout past the deadline, BadRequest when the framing is broken or the body ends
    early."""
    chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    declared = int(environ.get("CONTENT_LENGTH") or 0)  # gunicorn has checked its syntax
    if not chunked and not declared:
        return None
    if declared > max_bytes:
        # Unread: gunicorn closes the connection after the answer (api/gunicorn_config.py).
        raise _too_large(max_bytes)
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115
    try:
        size = _read_into(spool, environ, max_bytes, timeout)
    except BaseException:
        spool.close()
        raise
    if not chunked and size < declared:
        spool.close()
        raise BadRequest(f"The body ended after {size:,} of its {declared:,} bytes.")
    spool.seek(0)
    environ["wsgi.input"] = spool
    environ["CONTENT_LENGTH"] = str(size)
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    environ.pop("wsgi.input_terminated", None)
    return spool


def _read_into(spool: IO[bytes], environ: dict[str, Any], max_bytes: int, timeout: float) -> int:
    source = environ["wsgi.input"]
    size = 0
    try:
        # gunicorn's reads block this greenlet on the client's socket, each until it has all it
        # asked for: only a deadline on the whole read bounds a client that trickles.
        with gevent.Timeout(timeout, TimeoutError):
            while data := source.read(READ_BYTES):
                size += len(data)
                if size > max_bytes:
                    # The rest is left unread: gunicorn reads on for the next request only for
                    # its keep-alive time, then closes the connection.
                    raise _too_large(max_bytes)
                spool.write(data)
    except TimeoutError:
        raise RequestTimeout(
            f"The request body did not arrive in time: it is allowed {timeout:g} s."
        ) from None
    except NoMoreData:
        raise BadRequest("The body ended before its last chunk.") from None
    except ParseException as error:
        # gunicorn marks the body failed, so the connection closes after the answer.
        raise BadRequest(f"The request body could not be read: {error}.") from None
    return size


def _too_large(max_bytes: int) -> TooLarge:
    limit = max_bytes - FORM_OVERHEAD_BYTES
    return TooLarge(f"The upload is larger than the limit of {limit:,} bytes.")
