"""The analysis time limit (READFACE_TASK_SOFT_TIME_LIMIT): a timer of the pool process's own,
armed only while the pipeline runs.

Celery's soft time limit is a SIGUSR1 that the worker's main process sends to the pool process at
the limit, wherever that process is. When it lands in billiard's own code (writing the task's
result to the pool's pipe, `_ensure_messages_consumed`), the exception cuts the message in two:
the main process then reads garbage (UnicodeDecodeError in asynpool `_recv_message`), its consumer
dies, and the worker takes nothing more. So Celery gets no soft limit at all (only its hard one,
the last net, which kills the process instead of interrupting it), and this timer can only strike
between the pipeline's first and last bytecode, never in Celery's or billiard's code.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class AnalysisTimeLimit(Exception):
    """The pipeline ran past the analysis time limit."""


_armed = False


def _strike(signum: int, frame: FrameType | None) -> None:
    # A SIGALRM that fired just before the timer was disarmed reaches Python after `_armed` fell.
    if _armed:
        raise AnalysisTimeLimit


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise AnalysisTimeLimit in the block once it has run `seconds`. Like any Python signal
    handler, it lands between bytecodes: a long C call (a decode) ends first. Outside a process's
    main thread (a thread pool) no signal can reach the block, and it runs without a limit."""
    global _armed
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signal.signal(signal.SIGALRM, _strike)
    _armed = True
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        _armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)
