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
import hashlib
import json
import re
import resource
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from bench.common import save, table
from bench.stack import Stack, local_stack
from harness.bombs import empty_app_segments_jpeg, fill_byte_jpeg
from harness.images import astronaut_jpeg
from harness.service import UNWRITTEN, child_pids
from shared.settings import Settings
from shared.store import Store

MB = 1_000_000
PROBE_TIMEOUT = 70.0  # past the old body deadline (60 s), so a hold shows as its length


def _address(stack: Stack) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(stack.url)
    assert parts.hostname and parts.port
    return parts.hostname, parts.port


def _connect(stack: Stack, timeout: float = PROBE_TIMEOUT) -> socket.socket:
    return socket.create_connection(_address(stack), timeout=timeout)


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


def timed(call: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    try:
        value: object = call()
    except (OSError, requests.RequestException) as error:
        value = type(error).__name__
    return time.perf_counter() - started, value


def healthz(stack: Stack) -> tuple[float, object]:
    return timed(lambda: requests.get(stack.url + "/healthz", timeout=PROBE_TIMEOUT).status_code)


def bare_lf(stack: Stack, connections: int = 32) -> dict[str, object]:
    request = (
        b"POST /v1/analyses HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n5\nabcde\n0\n\n"
    )
    held = [_connect(stack, 5) for _ in range(connections)]
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
    return {"/healthz s": seconds, "/healthz": status, "bare-LF answers": _count(answers)}


def pipelined(stack: Stack) -> dict[str, object]:
    ones, threes = "1" * 64, "3" * 64
    with _connect(stack, 10) as sock:
        sock.sendall(
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
            + f"GET /v1/analyses/{ones} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        )
        time.sleep(1.0)  # the bench waits for both answers to have had time to come
        sock.settimeout(1.0)
        first = _recv_some(sock)
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


def _recv_some(sock: socket.socket) -> bytes:
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except OSError:
        pass
    return received


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
        with _connect(stack, 10) as sock:
            sock.sendall(head + trailer)
            row[name] = _statuses(_read_all(sock))
    return row


def never_ending_job(stack: Stack) -> str:
    """A job claimed in the store but never sent to a worker: it stays queued."""
    store = Store(Settings(redis_url=stack.redis_url))
    analysis_id = hashlib.sha256(str(time.time()).encode()).hexdigest()
    store.claim(analysis_id, 3, "never-runs", None, upload=UNWRITTEN)
    return analysis_id


def long_polls(stack: Stack, polls: int, slow_uploads: int) -> dict[str, object]:
    analysis_id = never_ending_job(stack)
    body = astronaut_jpeg(quality=66)
    upload_head = (
        f"POST /v1/analyses HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    waiting = []
    for _ in range(polls):
        sock = _connect(stack, 40)
        sock.sendall(f"GET /v1/analyses/{analysis_id}?wait=30 HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        waiting.append(sock)
    for _ in range(slow_uploads):
        sock = _connect(stack, 40)
        sock.sendall(upload_head + body[:100])  # the rest never comes while measured
        waiting.append(sock)
    settle(stack)
    health_seconds, health = healthz(stack)
    upload_seconds, upload = timed(
        lambda: (
            requests.post(
                stack.url + "/v1/analyses",
                data=astronaut_jpeg(quality=int(time.time()) % 30 + 40),
                headers={"Content-Type": "image/jpeg"},
                timeout=PROBE_TIMEOUT,
            ).status_code
        )
    )
    for sock in waiting:
        sock.close()
    return {
        "/healthz s": health_seconds,
        "/healthz": health,
        "upload s": upload_seconds,
        "upload": upload,
    }


def settle(stack: Stack, idle_cpu: float = 0.02, every: float = 0.5) -> None:
    """Until the API has taken in every request sent (its CPU use over `every` seconds falls
    under `idle_cpu` seconds): what then costs it nothing is what waits."""
    leader = stack.processes["API"].pid
    spent = sum(_cpu(pid) for pid in [leader, *child_pids(leader)])
    while True:
        time.sleep(every)
        now = sum(_cpu(pid) for pid in [leader, *child_pids(leader)])
        if now - spent < idle_cpu:
            return
        spent = now


def api_rss(stack: Stack) -> int:
    leader = stack.processes["API"].pid
    return max(_rss(pid) for pid in [leader, *child_pids(leader)])


def _rss(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    line = next((line for line in status.splitlines() if line.startswith("VmRSS:")), "0 0")
    return int(line.split()[1]) * 1024


def big_uploads(stack: Stack, uploads: int = 32, size: int = 20 * 1024 * 1024) -> dict[str, object]:
    before = api_rss(stack)
    peak = before
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.wait(0.05):
            peak = max(peak, api_rss(stack))

    sampler = threading.Thread(target=sample)
    sampler.start()
    payload = b"\xff\xd8" + b"\x00" * (size - 2)  # a JPEG signature and nothing else: refused
    with ThreadPoolExecutor(uploads) as pool:
        statuses = list(
            pool.map(
                lambda _: (
                    requests.post(
                        stack.url + "/v1/analyses",
                        data=payload,
                        headers={"Content-Type": "image/jpeg"},
                        timeout=120,
                    ).status_code
                ),
                range(uploads),
            )
        )
    stop.set()
    sampler.join()
    time.sleep(2.0)  # memory given back settles
    return {
        "answers": _count(statuses),
        "API RSS before MB": before / MB,
        "peak MB": peak / MB,
        "after MB": api_rss(stack) / MB,
    }


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
    with _connect(stack, 10) as sock:
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


def jpeg_walk_cpu(stack: Stack) -> dict[str, object]:
    """API CPU seconds (user + system, from /proc) for one upload of each slow-to-walk JPEG."""
    leader = stack.processes["API"].pid
    row: dict[str, object] = {}
    for name, data in (
        ("20 MiB fill bytes", fill_byte_jpeg(20 * 1024 * 1024)),
        ("5 M empty APP segments", empty_app_segments_jpeg(5_000_000)),
    ):
        before = sum(_cpu(pid) for pid in [leader, *child_pids(leader)])
        status = requests.post(
            stack.url + "/v1/analyses",
            data=data,
            headers={"Content-Type": "image/jpeg"},
            timeout=60,
        ).status_code
        spent = sum(_cpu(pid) for pid in [leader, *child_pids(leader)]) - before
        row[name] = f"{status}, {spent * 1000:.0f} ms CPU"
    return row


def _cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / 100  # utime, stime in clock ticks


def _count(values: list[object]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[str(value)] = counts.get(str(value), 0) + 1
    return counts


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
