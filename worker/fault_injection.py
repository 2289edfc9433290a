"""Faults the tests inject into a real worker, at named points, to make a time limit or a dead
consumer happen at a known moment instead of by a race with the machine's speed. Honoured only
when READFACE_TEST_FAULTS=1; nothing here runs otherwise.

    READFACE_TEST_PAUSE=STAGE:SECONDS[:RUN]   sleep that long when an analysis reaches STAGE:
        `upload` (read, before the pipeline), `decode` (inside the decoder), `detect` (in the
        pipeline, after the decode) or `outcome` (after the pipeline, before the outcome is
        written); with RUN (`upload` and `outcome` only), only in the job's run of that number
    READFACE_TEST_HOLD=STAGE:PATH       wait at STAGE for as long as the file PATH exists: the
        analysis is held until the test removes it, however fast or slow the machine
    READFACE_TEST_BREAK_CONSUMER=1      make the worker's event loop fail, as a corrupt message
        from a pool process does, once a task is running; =PATH: only when the file PATH exists
        (it is removed then): once, on demand, in a container its restart policy starts again
    READFACE_TEST_FAIL_ACK=PATH         once the file PATH exists (it is removed then), the worker's
        main process fails its next acknowledgement of a task's message as one to a Redis that
        stopped answering does
"""

from __future__ import annotations

import functools
import os
import time

STAGES = ("upload", "decode", "detect", "outcome")


def _enabled() -> bool:
    return os.environ.get("READFACE_TEST_FAULTS") == "1"


@functools.cache
def _pause() -> tuple[str, float, int | None] | None:
    spec = os.environ.get("READFACE_TEST_PAUSE", "")
    if not _enabled() or not spec:
        return None
    stage, seconds, *run = spec.split(":")
    if stage not in STAGES:
        raise ValueError(f"READFACE_TEST_PAUSE: no stage {stage!r} (one of {', '.join(STAGES)})")
    return stage, float(seconds), int(run[0]) if run else None


@functools.cache
def _hold() -> tuple[str, str] | None:
    spec = os.environ.get("READFACE_TEST_HOLD", "")
    if not _enabled() or not spec:
        return None
    stage, _, path = spec.partition(":")
    if stage not in STAGES:
        raise ValueError(f"READFACE_TEST_HOLD: no stage {stage!r} (one of {', '.join(STAGES)})")
    return stage, path


def pause_at(stage: str, run: int | None = None) -> None:
    """Sleep here if the tests asked for a pause at `stage` (in this run of the job, `run`), and
    wait while they hold analyses there."""
    pause = _pause()
    if pause is not None and pause[0] == stage and pause[2] in (None, run):
        time.sleep(pause[1])
    hold = _hold()
    if hold is not None and hold[0] == stage:
        while os.path.exists(hold[1]):
            time.sleep(0.05)


def break_consumer_asked() -> bool:
    """Whether the tests may ask for the worker's consumer to die."""
    return _enabled() and bool(os.environ.get("READFACE_TEST_BREAK_CONSUMER"))


def break_consumer_now() -> bool:
    """Whether the tests ask for the worker's consumer to die now."""
    trigger = os.environ.get("READFACE_TEST_BREAK_CONSUMER", "")
    return trigger == "1" or _pulled(trigger)


def fail_ack_asked() -> bool:
    """Whether the tests may ask for an acknowledgement to fail."""
    return _enabled() and bool(os.environ.get("READFACE_TEST_FAIL_ACK"))


def fail_ack_now() -> bool:
    """Whether the tests ask for this acknowledgement to fail."""
    return _pulled(os.environ.get("READFACE_TEST_FAIL_ACK", ""))


def _pulled(trigger: str) -> bool:
    """Whether the trigger file was there: removed now, so that it fires once."""
    try:
        os.remove(trigger)
    except OSError:
        return False
    return True
