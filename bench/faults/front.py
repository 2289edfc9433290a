"""The HTTP front under attack (issue 25), against a local stack on 127.0.0.1: each attack of the
issue with what it did, and the times and memory the issue gives targets for.

Rows: 32 bare-LF chunked bodies held open (then /healthz); two pipelined requests in one write;
chunked trailers over gunicorn's limits; long-polls (`?wait=30` on a job that never ends) plus
slow uploads (then /healthz and a normal upload); 32 concurrent 20 MiB uploads (API RSS at the
peak and after); a 1,002-part form; `Expect: 100-continue` over the limit; and the API CPU of
two JPEG headers made to be slow to walk. Prints a table; never fails on speed.

    python -m bench.faults.front [--long-polls 1000] [--slow-uploads 200]
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import socket
import time
from collections import Counter
from collections.abc import Callable

import requests

from bench.common import save, table
from bench.faults.front_loads import (
    big_uploads,
    connect,
    healthz,
    jpeg_walk_cpu,
    long_polls,
)
from bench.stack import Stack, local_stack


def _statuses(received: bytes) -> list[int]:
    """The statuses in a stream of HTTP/1.1 answers (interim 1xx included)."""
    return [int(status) for status in re.findall(rb"HTTP/1\.[01] (\d{3}) ", received)]


def _read_all(sock: socket.socket) -> bytes:
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except OSError:
        pass
    return received


def bare_lf(stack: Stack, connections: int = 32) -> dict[str, object]:
    request = (
        b"POST /v1/analyses HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n5\nabcde\n0\n\n"
    )
    held = [connect(stack, 5) for _ in range(connections)]
    for sock in held:
        sock.sendall(request)
    seconds, status = healthz(stack)
    answers = []
    for sock in held:
        sock.settimeout(0.5)
        try:
            answers += _statuses(sock.recv(65536))[:1] or ["none"]
        except OSError:
            answers.append("none in 0.5 s")
        sock.close()
    return {
        "/healthz s": seconds,
        "/healthz": status,
        "bare-LF answers": dict(Counter(map(str, answers))),
    }


def pipelined(stack: Stack) -> dict[str, object]:
    ones, threes = "1" * 64, "3" * 64
    with connect(stack, 10) as sock:
        sock.sendall(
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
            + f"GET /v1/analyses/{ones} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        )
        time.sleep(1.0)  # the bench waits for both answers to have had time to come
        sock.settimeout(1.0)
        first = _read_all(sock)
        sock.sendall(
            f"GET /v1/analyses/{threes} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
        )
        sock.settimeout(10)
        rest = _read_all(sock)
    return {
        "answers to 2 pipelined": _statuses(first),
        "third answer names": "333…"
        if threes.encode() in rest
        else ("111…" if ones.encode() in rest else "?"),
    }


def trailers(stack: Stack) -> dict[str, object]:
    head = (
        b"POST /v1/analyses HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nabcde\r\n0\r\n"
    )
    cases = {
        "101 trailer lines": b"".join(b"X-T%d: v\r\n" % n for n in range(101)) + b"\r\n",
        "one 10 KB trailer": b"X-T: " + b"v" * 10_000 + b"\r\n\r\n",
    }
    row: dict[str, object] = {}
    for name, trailer in cases.items():
        with connect(stack, 10) as sock:
            sock.sendall(head + trailer)
            row[name] = _statuses(_read_all(sock))
    return row


def many_parts(stack: Stack, parts: int = 1002) -> dict[str, object]:
    boundary = "b0undary"
    body = (
        b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="f{n}"\r\n\r\n'.encode()
            + b"x" * 64
            + b"\r\n"
            for n in range(parts)
        )
        + f"--{boundary}--\r\n".encode()
    )
    answer = requests.post(
        stack.url + "/v1/analyses",
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        timeout=30,
    )
    return {"bytes": len(body), "status": answer.status_code, "body": answer.text[:120]}


def expect_over_limit(stack: Stack) -> dict[str, object]:
    with connect(stack, 10) as sock:
        sock.sendall(
            b"POST /v1/analyses HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
            b"Content-Length: 104857600\r\nExpect: 100-continue\r\n\r\n"
        )
        received = b""
        sock.settimeout(5)
        try:
            while b"413" not in received and (chunk := sock.recv(65536)):
                received += chunk
        except OSError:
            pass
    return {"statuses": _statuses(received)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--long-polls", type=int, default=1000)
    parser.add_argument("--slow-uploads", type=int, default=200)
    parser.add_argument("--only", nargs="*", default=None)
    args = parser.parse_args(argv)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    attacks: dict[str, Callable[[Stack], dict[str, object]]] = {
        "bare-LF chunked x32": bare_lf,
        "pipelined": pipelined,
        "trailers over limits": trailers,
        "long-polls + slow uploads": lambda s: long_polls(s, args.long_polls, args.slow_uploads),
        "32 x 20 MiB uploads": big_uploads,
        "1,002-part form": many_parts,
        "Expect over limit": expect_over_limit,
        "slow JPEG headers": jpeg_walk_cpu,
    }
    rows = []
    with local_stack(workers=1) as stack:
        for name, attack in attacks.items():
            if args.only and not any(word in name for word in args.only):
                continue
            started = time.perf_counter()
            outcome = attack(stack)
            rows.append({"attack": name, **outcome, "seconds": time.perf_counter() - started})
            print(name, json.dumps(outcome, default=str), flush=True)
    print(
        table(
            ["attack", "outcome"],
            [[row["attack"], _outcome(row)] for row in rows],
            f"The HTTP front (issue 25): {args.long_polls} long-polls, "
            f"{args.slow_uploads} slow uploads",
        )
    )
    save("front", rows)
    return 0


def _outcome(row: dict[str, object]) -> str:
    return ", ".join(
        f"{key}: {f'{value:.3g}' if isinstance(value, float) else value}"
        for key, value in row.items()
        if key != "attack"
    )


if __name__ == "__main__":
    raise SystemExit(main())
