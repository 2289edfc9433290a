"""An HTTP/1.1 conformance and request-smuggling corpus, as data (issue 25): each case's raw
bytes, sent in one write, and the answers expected beside them, in order, with whether the server
must then close the connection. A case that leaves it open is followed by one more request: its
answer must be the next one, so nothing was smuggled in behind the case's own requests.

`answers` lists statuses (100 Continue included where the server sends it). Statuses of the app
are those of the contract: 415 for a body of a type it does not take (read whole first), 404 for
an unknown analysis.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

UNKNOWN_ID = "1" * 64
OTHER_ID = "3" * 64
PROBE = b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"


@dataclass(frozen=True)
class Case:
    name: str
    raw: bytes
    answers: tuple[int, ...]
    closes: bool  # the server closes the connection after these answers


def _post(headers: bytes, body: bytes = b"") -> bytes:
    """A POST of a type the API refuses (415) once it has read the body."""
    return (
        b"POST /v1/analyses HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n"
        + headers
        + b"\r\n"
        + body
    )


CHUNKED = b"Transfer-Encoding: chunked\r\n"
TRAILERS_101 = b"".join(b"X-T%d: v\r\n" % n for n in range(101))

CASES = [
    # Pipelining: answered in order, each with its own answer.
    Case(
        "pipelined GETs",
        b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
        + f"GET /v1/analyses/{UNKNOWN_ID} HTTP/1.1\r\nHost: t\r\n\r\n".encode()
        + f"GET /v1/analyses/{OTHER_ID} HTTP/1.1\r\nHost: t\r\n\r\n".encode(),
        (200, 404, 404),
        False,
    ),
    Case(
        "pipelined POST with a body, then a GET",
        _post(b"Content-Length: 5\r\n", b"abcde") + b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n",
        (415, 200),
        False,
    ),
    Case(
        "pipelined chunked POST, then a GET",
        _post(CHUNKED, b"5\r\nabcde\r\n0\r\n\r\n") + b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n",
        (415, 200),
        False,
    ),
    # Smuggling: a message framed two ways is refused, never read one way.
    Case("CL.TE", _post(b"Content-Length: 6\r\n" + CHUNKED, b"0\r\n\r\nG"), (400,), True),
    Case(
        "TE.CL",
        _post(CHUNKED + b"Content-Length: 3\r\n", b"8\r\nSMUGGLED\r\n0\r\n\r\n"),
        (400,),
        True,
    ),
    Case(
        "TE.TE: second coding",
        _post(CHUNKED + b"Transfer-Encoding: x\r\n", b"0\r\n\r\n"),
        (501,),
        True,
    ),
    Case(
        "TE.TE: space before colon",
        _post(b"Transfer-Encoding : chunked\r\n", b"0\r\n\r\n"),
        (400,),
        True,
    ),
    Case("TE.TE: xchunked", _post(b"Transfer-Encoding: xchunked\r\n", b"0\r\n\r\n"), (501,), True),
    Case(
        "TE.TE: chunked, identity",
        _post(b"Transfer-Encoding: chunked, identity\r\n", b"0\r\n\r\n"),
        (400,),
        True,
    ),
    Case(
        "TE.TE: vertical tab",
        _post(b"Transfer-Encoding:\x0bchunked\r\n", b"0\r\n\r\n"),
        (400,),
        True,
    ),
    Case("TE.TE: folded", _post(b"Transfer-Encoding:\r\n chunked\r\n", b"0\r\n\r\n"), (400,), True),
    Case(
        "TE in HTTP/1.0",
        b"POST /v1/analyses HTTP/1.0\r\nContent-Type: text/plain\r\n" + CHUNKED + b"\r\n0\r\n\r\n",
        (400,),
        True,
    ),
    Case(
        "duplicate Content-Length",
        _post(b"Content-Length: 3\r\nContent-Length: 4\r\n", b"abcd"),
        (400,),
        True,
    ),
    Case("Content-Length list", _post(b"Content-Length: 4, 4\r\n", b"abcd"), (400,), True),
    Case("Content-Length with a sign", _post(b"Content-Length: +4\r\n", b"abcd"), (400,), True),
    # Line endings: CRLF only.
    Case("bare LF in the head", b"GET /healthz HTTP/1.1\nHost: t\n\n", (400,), True),
    Case("bare CR in the head", b"GET /healthz HTTP/1.1\rHost: t\r\n\r\n", (400,), True),
    Case(
        "obs-fold header", b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n", (400,), True
    ),
    Case(
        "NUL in a header", b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-A: a\x00b\r\n\r\n", (400,), True
    ),
    Case("bare LF chunked body", _post(CHUNKED, b"5\nabcde\n0\n\n"), (400,), True),
    Case("bare LF after chunk data", _post(CHUNKED, b"5\r\nabcde\n0\r\n\r\n"), (400,), True),
    Case("bare CR in a chunk size", _post(CHUNKED, b"5\rabcde\r\n0\r\n\r\n"), (400,), True),
    Case("bad chunk size", _post(CHUNKED, b"zz\r\nabcde\r\n0\r\n\r\n"), (400,), True),
    Case("negative chunk size", _post(CHUNKED, b"-5\r\nabcde\r\n0\r\n\r\n"), (400,), True),
    Case("chunk size with 0x", _post(CHUNKED, b"0x5\r\nabcde\r\n0\r\n\r\n"), (400,), True),
    # Chunk extensions and trailers: well-formed ones are read past; bad or oversized ones are 400.
    Case("chunk extension", _post(CHUNKED, b"5;name=value\r\nabcde\r\n0\r\n\r\n"), (415,), False),
    Case(
        "quoted chunk extension", _post(CHUNKED, b'5;n="a b"\r\nabcde\r\n0\r\n\r\n'), (415,), False
    ),
    Case("bad chunk extension", _post(CHUNKED, b"5;\x01\r\nabcde\r\n0\r\n\r\n"), (400,), True),
    Case("trailer", _post(CHUNKED, b"5\r\nabcde\r\n0\r\nX-T: v\r\n\r\n"), (415,), False),
    Case(
        "101 trailer lines",
        _post(CHUNKED, b"5\r\nabcde\r\n0\r\n" + TRAILERS_101 + b"\r\n"),
        (400,),
        True,
    ),
    Case(
        "one 10 KB trailer",
        _post(CHUNKED, b"5\r\nabcde\r\n0\r\nX-T: " + b"v" * 10_000 + b"\r\n\r\n"),
        (400,),
        True,
    ),
    Case("bare LF in a trailer", _post(CHUNKED, b"5\r\nabcde\r\n0\r\nX-T: v\n\r\n"), (400,), True),
    # HTTP/1.0: keep-alive only when asked for.
    Case(
        "HTTP/1.0 keep-alive",
        b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
        b"GET /healthz HTTP/1.0\r\n\r\nGET /healthz HTTP/1.0\r\n\r\n",
        (200, 200),
        True,
    ),
    Case(
        "HTTP/1.0 closes",
        b"GET /healthz HTTP/1.0\r\n\r\nGET /healthz HTTP/1.0\r\n\r\n",
        (200,),
        True,
    ),
    Case(
        "Connection: close",
        b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" + PROBE,
        (200,),
        True,
    ),
    # Limits: refused from the headers alone, with no 100 Continue for a body that is too large.
    Case(
        "Expect 100-continue over the limit",
        _post(b"Content-Length: 104857600\r\nExpect: 100-continue\r\n"),
        (413,),
        True,
    ),
    Case(
        "Expect 100-continue",
        _post(b"Content-Length: 5\r\nExpect: 100-continue\r\n", b"abcde"),
        (100, 415),
        False,
    ),
    # A later minor version is served as HTTP/1.1 (RFC 9112 section 2.3); another major is not.
    Case("HTTP/1.2", b"GET /healthz HTTP/1.2\r\nHost: t\r\n\r\n", (200,), False),
    Case("HTTP/2.0 in HTTP/1 syntax", b"GET /healthz HTTP/2.0\r\nHost: t\r\n\r\n", (400,), True),
]


def read_answers(sock: socket.socket, count: int) -> list[tuple[int, bytes]]:
    """Up to `count` answers (status, body) in the order they come, fewer if the server closes
    first; answers are framed by their Content-Length (the API always sends one)."""
    buffer = b""
    answers: list[tuple[int, bytes]] = []
    while len(answers) < count:
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            data = _recv(sock)
            if not data:
                return answers
            buffer += data
            continue
        head, buffer = buffer[:end].decode("latin-1"), buffer[end + 4 :]
        status_line, *lines = head.split("\r\n")
        status = int(status_line.split()[1])
        fields = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines)
        }
        length = 0 if status < 200 else int(fields.get("content-length", "0"))
        while len(buffer) < length and (data := _recv(sock)):
            buffer += data
        answers.append((status, buffer[:length]))
        buffer = buffer[length:]
    return answers


def closed(sock: socket.socket) -> bool:
    """Whether the server closes the connection, sending nothing more."""
    return _recv(sock) == b""


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except ConnectionResetError:
        return b""
