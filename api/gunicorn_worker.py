"""The gunicorn worker the API runs: gthread, but each request is read whole in the event loop
before a thread sees it (api/request_buffer.py), within a header and a body deadline, so slow and
idle clients cannot hold the threads; and the errors gunicorn answers by itself (requests it cannot
parse, before the app sees them) carry the contract's JSON error body, not HTML."""

from __future__ import annotations

import errno
import json
import selectors
import socket
import ssl
import time
from functools import partial
from http import HTTPStatus
from typing import Any

from gunicorn import util
from gunicorn.config import Config
from gunicorn.http import RequestParser, errors
from gunicorn.workers.gthread import TConn, ThreadWorker

from api.request_buffer import PendingRequest, Replay
from api.uploads import FORM_OVERHEAD_BYTES
from shared.errors import BadRequest, ReadfaceError
from shared.settings import get_settings

RECV_BYTES = 256 * 1024
# How often the event loop looks for requests past their deadline.
SWEEP_SECONDS = 0.2
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"

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


class BufferedConn(TConn):
    """A client connection whose parser reads the buffered request, not the socket."""

    parser: RequestParser | None

    def __init__(
        self, cfg: Config, sock: socket.socket, client: Any, server: Any, write_timeout: float
    ) -> None:
        super().__init__(cfg, sock, client, server)
        self.replay = Replay(sock)
        self.write_timeout = write_timeout

    def init(self) -> None:
        self.initialized = True
        # A thread's writes to a client that stops reading end in time too.
        self.sock.settimeout(self.write_timeout)
        if self.parser is None:
            self.parser = RequestParser(self.cfg, self.replay, self.client)


class BufferingThreadWorker(JsonErrorThreadWorker):
    """The API's worker: a request goes to a thread only once it is all here (or is refused from
    its headers); one not here by its deadline is answered 408 and closed, and never runs."""

    @classmethod
    def check_config(cls, cfg: Config, log: Any) -> None:
        super().check_config(cfg, log)
        if cfg.is_ssl:
            raise errors.ConfigurationProblem("TLS ends before the API (ingress or proxy).")

    def init_process(self) -> None:
        settings = get_settings()
        self.timeouts = (settings.api_header_timeout, settings.api_body_timeout)
        if min(self.timeouts) <= 0:
            raise errors.ConfigurationProblem(
                "READFACE_API_HEADER_TIMEOUT and READFACE_API_BODY_TIMEOUT must be positive."
            )
        self.max_body = settings.max_upload_bytes + FORM_OVERHEAD_BYTES
        self.pending: dict[BufferedConn, PendingRequest] = {}
        self.next_sweep = 0.0
        super().init_process()  # runs the event loop: last

    def accept(self, server: Any, listener: socket.socket) -> None:
        try:
            sock, client = listener.accept()
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        conn = BufferedConn(self.cfg, sock, client, server, self.timeouts[1])
        self.nr_conns += 1
        # The header deadline runs from the connection: an idle one is closed when it passes.
        self.pending[conn] = self._new_request(conn)
        with self._lock:
            self.poller.register(
                conn.sock, selectors.EVENT_READ, partial(self.on_client_socket_readable, conn)
            )

    def on_client_socket_readable(self, conn: BufferedConn, client: socket.socket) -> None:
        request = self.pending.get(conn)
        if request is None:  # the next request on a kept-alive connection
            with self._lock:
                try:
                    self._keep.remove(conn)
                except ValueError:
                    return  # closed as idle meanwhile
            request = self.pending[conn] = self._new_request(conn)
        try:
            data = conn.sock.recv(RECV_BYTES)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
        elif request.feed(data):
            del self.pending[conn]
            with self._lock:
                self.poller.unregister(conn.sock)
            conn.replay.load(request)
            self.enqueue_req(conn)
        elif request.continue_due():
            self._send_now(conn, CONTINUE)

    def handle_request(self, req: Any, conn: BufferedConn) -> bool:
        request = conn.replay.request
        assert request is not None
        if request.continued:
            req.headers = [(name, value) for name, value in req.headers if name != "EXPECT"]
        if not request.whole:
            # Refused by its declared size: the rest of its body is never read, so no next request.
            req.force_close()
        keepalive = bool(super().handle_request(req, conn))
        # What the app left unread is in this request's buffer: read it out now, as the parser
        # would at the next request, which by then reads from the next request's buffer.
        while keepalive and req.body.read(RECV_BYTES):
            pass
        return keepalive

    def murder_keepalived(self) -> None:
        super().murder_keepalived()
        now = time.monotonic()
        if now < self.next_sweep:
            return
        self.next_sweep = now + SWEEP_SECONDS
        for conn, request in list(self.pending.items()):
            if request.deadline > now:
                continue
            if request.received:  # an idle connection is just closed, as nginx does
                status, code = 408, "request_timeout"
                header_timeout, body_timeout = self.timeouts
                message = (
                    f"The request did not arrive in time: the headers are allowed "
                    f"{header_timeout:g} s and the body {body_timeout:g} s."
                )
                self._send_now(conn, error_bytes(status, code, message))
                self.log.info("Request from ip=%s not received in time", (conn.client or ("",))[0])
            self._drop(conn)

    def _new_request(self, conn: BufferedConn) -> PendingRequest:
        return PendingRequest(self.cfg, conn.client, self.timeouts, self.max_body)

    def _send_now(self, conn: BufferedConn, data: bytes) -> None:
        try:
            util.write_nonblock(conn.sock, data)
        except OSError:
            self.log.debug("Failed to send to a client being read.")

    def _drop(self, conn: BufferedConn) -> None:
        self.pending.pop(conn).close()
        with self._lock:
            self.poller.unregister(conn.sock)
        conn.close()
        self.nr_conns -= 1
