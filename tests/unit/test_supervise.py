"""`readface up`'s supervision (cli/supervise.py): restarts, backoff, and giving up."""

from __future__ import annotations

import io
import subprocess
from typing import cast

import pytest

from cli.supervise import MAX_QUICK_FAILURES, QUICK_SECONDS, GaveUp, Supervisor


class FakeProcess:
    """A process that has exited (returncode set) or runs (None)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        return self.returncode


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def supervised() -> tuple[Supervisor, list[FakeProcess], Clock, io.StringIO]:
    started: list[FakeProcess] = []

    def start() -> subprocess.Popen[bytes]:
        started.append(FakeProcess(len(started) + 1))
        return cast(subprocess.Popen[bytes], started[-1])

    clock, out = Clock(), io.StringIO()
    parts = Supervisor(reap=lambda process: None, clock=clock, out=out)
    parts.start("worker", start)
    return parts, started, clock, out


def die_and_restart(parts: Supervisor, started: list[FakeProcess], clock: Clock) -> float:
    """Let the current process die now; the wait before its replacement started."""
    started[-1].returncode = 70
    parts.check()
    died, count = clock.now, len(started)
    while len(started) == count:
        clock.now += 0.5
        parts.check()
    return clock.now - died


def test_quick_deaths_double_the_wait_then_the_supervisor_gives_up() -> None:
    parts, started, clock, out = supervised()
    waits = [die_and_restart(parts, started, clock) for _ in range(MAX_QUICK_FAILURES - 1)]
    assert waits == [1.0, 2.0, 4.0, 8.0]
    assert "the worker exited with status 70" in out.getvalue()
    assert "started the worker again (pid 5)" in out.getvalue()
    started[-1].returncode = 70
    with pytest.raises(GaveUp):
        parts.check()
    assert "giving up" in out.getvalue()


def test_a_part_that_lived_a_while_is_started_again_after_a_second() -> None:
    parts, started, clock, _ = supervised()
    assert die_and_restart(parts, started, clock) == 1.0
    assert die_and_restart(parts, started, clock) == 2.0
    clock.now += QUICK_SECONDS
    assert die_and_restart(parts, started, clock) == 1.0
    assert [name for name, _ in parts.processes()] == ["worker"]
