"""The attacks of issue 25 on the HTTP front, for `bench.abuse`: raw requests over sockets that
the hand-rolled request buffering let through. Each is bounded in count and time and aimed only
at a local stack on 127.0.0.1; the harness times /healthz and an unrelated analysis meanwhile.

The conformance of each case is tested in tests/integration/test_http_conformance.py; here they
come many at once, to show they cost the API nothing it needs for other clients.
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
import urllib.parse

from bench.faults.abuse_attacks import Attack, Outcome
from bench.stack import Stack
from harness.http_corpus import closed, read_answers

# Longer than any answer takes on a loaded machine; an attack whose requests are held past it
# fails, rather than hang the suite.
ANSWER_SECONDS = 30.0
BARE_LF = (
    b"POST /v1/analyses HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n5\nabcde\n0\n\n"
)


def _connect(stack: Stack) -> socket.socket:
    parts = urllib.parse.urlsplit(stack.url)
    assert parts.hostname and parts.port
    return socket.create_connection((parts.hostname, parts.port), timeout=ANSWER_SECONDS)


def bare_lf_chunked(connections: int = 32) -> Attack:
    """`connections` POSTs whose chunked framing ends its lines with a bare LF, each connection
    kept open: answered 400 at once, never held until a deadline."""

    def run(stack: Stack, engaged: threading.Event) -> Outcome:
        outcome = Outcome()
        held = [_connect(stack) for _ in range(connections)]
        try:
            for sock in held:
                sock.sendall(BARE_LF)
                outcome.sent += 1
            engaged.set()
            for sock in held:
                answers = read_answers(sock, 1)
                outcome.answers[answers[0][0] if answers else 0] += 1
        except TimeoutError:
            outcome.failures.append(f"a bare-LF request was held over {ANSWER_SECONDS:g} s")
        finally:
            for sock in held:
                sock.close()
        if set(outcome.answers) - {400}:
            outcome.failures.append(f"answers other than 400: {dict(outcome.answers)}")
        return outcome

    return run


def pipelined(connections: int = 50) -> Attack:
    """`connections` connections, each sending three requests in one write (/healthz and two
    unknown analyses): each must get its own answer, in order."""

    def run(stack: Stack, engaged: threading.Event) -> Outcome:
        outcome = Outcome()
        misanswered = 0
        for number in range(connections):
            first, second = secrets.token_hex(32), secrets.token_hex(32)
            with _connect(stack) as sock:
                sock.sendall(
                    b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                    + f"GET /v1/analyses/{first} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
                    + f"GET /v1/analyses/{second} HTTP/1.1\r\nHost: x\r\n".encode()
                    + b"Connection: close\r\n\r\n"
                )
                answers = read_answers(sock, 3)
                extra = not closed(sock)
            outcome.sent += 3
            for status, _ in answers:
                outcome.answers[status] += 1
            named = [json.loads(body)["error"]["message"] for _, body in answers[1:]]
            if extra or len(named) != 2 or first not in named[0] or second not in named[1]:
                misanswered += 1
            if number == connections // 10:
                engaged.set()
        outcome.notes = {"connections_misanswered": misanswered}
        if misanswered:
            outcome.failures.append(f"{misanswered} pipelined connections answered out of turn")
        return outcome

    return run


def oversized_trailers(requests: int = 40) -> Attack:
    """Chunked POSTs whose trailer section is over gunicorn's limits, half with 101 trailer
    lines, half with one 10 KB line: each answered 400, never 500."""
    head = (
        b"POST /v1/analyses HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nabcde\r\n0\r\n"
    )
    trailers = [
        b"".join(b"X-T%d: v\r\n" % n for n in range(101)) + b"\r\n",
        b"X-T: " + b"v" * 10_000 + b"\r\n\r\n",
    ]

    def run(stack: Stack, engaged: threading.Event) -> Outcome:
        outcome = Outcome()
        for number in range(requests):
            with _connect(stack) as sock:
                sock.sendall(head + trailers[number % 2])
                answers = read_answers(sock, 1)
            outcome.sent += 1
            outcome.answers[answers[0][0] if answers else 0] += 1
            if number == requests // 10:
                engaged.set()
        if set(outcome.answers) - {400}:
            outcome.failures.append(f"answers other than 400: {dict(outcome.answers)}")
        return outcome

    return run
