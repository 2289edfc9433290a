"""Supervision for `readface up`: a part that dies is started again, and says so.

A part that lived at least QUICK_SECONDS before dying is started again after FIRST_DELAY_SECONDS;
each further death within QUICK_SECONDS of its start doubles the wait. After MAX_QUICK_FAILURES
such quick deaths in a row the part is broken for good (a bad setting, a port taken, a worker that
refuses its model files), and the supervisor gives up: `readface up` stops the rest and exits 1.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO

FIRST_DELAY_SECONDS = 1.0
QUICK_SECONDS = 60.0
MAX_QUICK_FAILURES = 5
READY_TIMEOUT_SECONDS = 120

Process = subprocess.Popen[bytes]


@dataclass
class _Part:
    name: str
    start: Callable[[], Process]
    process: Process
    started_at: float
    quick_failures: int = 0
    restart_at: float | None = None


class GaveUp(Exception):
    """A part died quickly MAX_QUICK_FAILURES times in a row."""


class Supervisor:
    """The parts of `readface up`, each started by a function that returns its process."""

    def __init__(
        self,
        reap: Callable[[Process], None],
        clock: Callable[[], float] = time.monotonic,
        out: IO[str] = sys.stderr,
    ) -> None:
        self._reap = reap  # what a dead part leaves behind (its process group) is ended first
        self._clock = clock
        self._out = out
        self._parts: list[_Part] = []

    def start(self, name: str, start: Callable[[], Process]) -> None:
        self._parts.append(_Part(name, start, start(), self._clock()))

    def processes(self) -> Iterator[tuple[str, Process]]:
        """The parts' current processes, in the order they were started."""
        return ((part.name, part.process) for part in self._parts)

    def exited(self) -> str | None:
        """The name of a part whose process has exited, if any."""
        return next((part.name for part in self._parts if part.process.poll() is not None), None)

    def check(self) -> None:
        """Schedule the restart of each part that died, and start those whose wait is over;
        GaveUp, said on `out`, when a part keeps dying as soon as it starts."""
        now = self._clock()
        for part in self._parts:
            if part.restart_at is None and part.process.poll() is not None:
                self._died(part, now)
            elif part.restart_at is not None and now >= part.restart_at:
                part.restart_at = None
                part.process, part.started_at = part.start(), now
                self._say(f"started the {part.name} again (pid {part.process.pid})")

    def _died(self, part: _Part, now: float) -> None:
        self._reap(part.process)
        lived = now - part.started_at
        part.quick_failures = part.quick_failures + 1 if lived < QUICK_SECONDS else 0
        status = part.process.returncode
        if part.quick_failures >= MAX_QUICK_FAILURES:
            self._say(
                f"the {part.name} exited with status {status} {part.quick_failures} times in a "
                f"row within {QUICK_SECONDS:g} s of starting; giving up"
            )
            raise GaveUp(part.name)
        delay = FIRST_DELAY_SECONDS * 2 ** max(part.quick_failures - 1, 0)
        part.restart_at = now + delay
        self._say(
            f"the {part.name} exited with status {status} after {lived:.0f} s; "
            f"starting it again in {delay:g} s"
        )

    def _say(self, message: str) -> None:
        print(f"readface: {message}", file=self._out, flush=True)


def wait_until_ready(parts: Supervisor, ready_url: str, stopping: Callable[[], bool]) -> bool:
    """Wait until the API says ready at `ready_url` (Redis answers, a worker is up); False, said
    on stderr, if a part exits first (a worker that refuses to start) or readiness never comes:
    a part that cannot start at all is not started again."""
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while not stopping():
        if dead := parts.exited():
            print(
                f"readface: the {dead} exited before the service was ready (its message is "
                "above); stopping the rest",
                file=sys.stderr,
            )
            return False
        # A 503 (not ready yet) raises HTTPError, an OSError like a refused connection.
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(ready_url, timeout=2) as answer,
        ):
            if answer.status == 200:
                return True
        if time.monotonic() > deadline:
            print(f"readface: not ready after {READY_TIMEOUT_SECONDS} s; stopping", file=sys.stderr)
            return False
        time.sleep(0.2)
    return False
