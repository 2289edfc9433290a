"""A request read whole in gunicorn's event loop before any thread sees it (as nginx buffers for
its upstream), so a client that sends slowly, or not at all, holds a socket and a little memory but
never one of the API's threads; and what the thread's parser then reads instead of the socket."""

from __future__ import annotations

import socket
import tempfile
import time

from gunicorn.config import Config
from gunicorn.http.body import LengthReader
from gunicorn.http.errors import NoMoreData
from gunicorn.http.message import Request
from gunicorn.http.unreader import IterUnreader

# Bytes beyond this wait in an unlinked temporary file, as with nginx's client_body_buffer_size:
# a thousand half-sent 20 MiB uploads must not hold 20 GiB of memory.
MEMORY_BYTES = 256 * 1024
# Headers without their end yet are parsed anyway at this size, then at each doubling, so that
# gunicorn's limits (414, 431) answer at once, in linear work however the bytes are split.
FIRST_HEADER_CHECK_BYTES = 16 * 1024
# A chunk-size line or trailer line longer than this is not HTTP; gunicorn then refuses it.
MAX_CHUNK_LINE_BYTES = 64 * 1024


class ChunkScanner:
    """Finds where a chunked body ends as its bytes arrive, in any splits, without keeping it."""

    def __init__(self) -> None:
        self.line = bytearray()  # a chunk-size or trailer line still without its LF
        self.skip = 0  # bytes of chunk data and their CRLF still to pass over
        self.in_trailers = False
        self.ended = False

    def feed(self, data: bytes) -> bool:
        """True once the last chunk and the trailer section have arrived, or the framing is
        broken (gunicorn reads it again and answers 400)."""
        at = 0
        while at < len(data) and not self.ended:
            if self.skip:
                taken = min(self.skip, len(data) - at)
                self.skip -= taken
                at += taken
                continue
            end = data.find(b"\n", at)
            self.line += data[at : len(data) if end < 0 else end]
            if end < 0:
                self.ended = len(self.line) > MAX_CHUNK_LINE_BYTES
                break
            at = end + 1
            self._line_ended(bytes(self.line.rstrip(b"\r")))
            self.line.clear()
        return self.ended

    def _line_ended(self, line: bytes) -> None:
        if self.in_trailers:
            self.ended = not line  # the empty line closes the trailer section
            return
        try:
            size = int(line.split(b";", 1)[0].strip(b" \t"), 16)
        except ValueError:
            self.ended = True
            return
        self.in_trailers = size == 0
        self.skip = size + 2 if size else 0


class PendingRequest:
    """One request's bytes while they arrive, and its deadline: first for the headers, then,
    once they are in, for the body."""

    def __init__(
        self, cfg: Config, peer: object, timeouts: tuple[float, float], max_body: int
    ) -> None:
        self.cfg, self.peer, self.max_body = cfg, peer, max_body
        self.header_timeout, self.body_timeout = timeouts
        self.deadline = time.monotonic() + self.header_timeout
        self.spool = tempfile.SpooledTemporaryFile(max_size=MEMORY_BYTES)  # noqa: SIM115
        self.received = 0
        self.head: bytearray | None = bytearray()  # None once the headers are parsed
        self.next_header_check = FIRST_HEADER_CHECK_BYTES
        self.remaining: int | None = None  # Content-Length bytes still to come
        self.chunks: ChunkScanner | None = None
        self.body_bytes = 0
        self.whole = False  # every byte of the request is here
        self.expects_continue = False
        self.continued = False  # we sent `100 Continue` (so gunicorn must not send another)

    def feed(self, data: bytes) -> bool:
        """Take bytes just received; True when the request should go to a thread now: it is
        whole, or gunicorn refuses it from what is here, or the app refuses it by its declared
        size without reading it."""
        self.spool.write(data)
        self.received += len(data)
        if self.head is None:
            return self._feed_body(data)
        self.head += data
        end = self.head.find(b"\r\n\r\n")
        if end < 0:
            return self._refused_early()
        try:
            request = Request(self.cfg, IterUnreader([bytes(self.head[: end + 4])]), self.peer)
        except Exception:  # whatever gunicorn refuses, the thread refuses again
            return True
        body = bytes(self.head[end + 4 :])
        self.head = None
        self.deadline = time.monotonic() + self.body_timeout
        self.expects_continue = any(
            name == "EXPECT" and value.lower() == "100-continue" for name, value in request.headers
        )
        reader = request.body.reader
        if isinstance(reader, LengthReader):
            if reader.length > self.max_body:
                return True  # answered 413 from the headers alone; the connection then closes
            self.remaining = reader.length
        else:
            self.chunks = ChunkScanner()
        return self._feed_body(body)

    def _refused_early(self) -> bool:
        assert self.head is not None
        if len(self.head) < self.next_header_check:
            return False
        self.next_header_check *= 2
        try:
            Request(self.cfg, IterUnreader([bytes(self.head)]), self.peer)
        except (NoMoreData, StopIteration):
            return False
        except Exception:  # gunicorn answers its own error from these bytes
            return True
        return True

    def _feed_body(self, data: bytes) -> bool:
        self.body_bytes += len(data)
        if self.remaining is not None:
            self.remaining -= len(data)
            self.whole = self.remaining <= 0
        elif self.chunks is not None:
            self.whole = self.chunks.feed(data)
        # A chunked body past the limit: the app refuses it from the bytes here, 413.
        return self.whole or self.body_bytes > self.max_body

    def continue_due(self) -> bool:
        """Whether to send `100 Continue` now: the client waits for it before its body."""
        due = self.expects_continue and not self.continued and self.head is None
        self.continued = self.continued or due
        return due

    def close(self) -> None:
        self.spool.close()


class Replay:
    """The source gunicorn's parser reads a connection from: each handed-over request's buffered
    bytes, then (only if the request was handed over unfinished) the socket until its deadline."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.request: PendingRequest | None = None

    def load(self, request: PendingRequest) -> None:
        if self.request is not None:
            self.request.close()
        request.spool.seek(0)
        self.request = request

    def recv(self, size: int) -> bytes:
        if self.request is None:
            return b""
        data = self.request.spool.read(size)
        if data:
            return data
        left = self.request.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("The request was not received before its deadline.")
        timeout = self.sock.gettimeout()
        self.sock.settimeout(left)
        try:
            return self.sock.recv(size)
        finally:
            self.sock.settimeout(timeout)
