"""How an analysis that did not succeed ends: the contract's failure code and message for each
way it can stop, and how many hard-limit strikes a job takes before it ends."""

from __future__ import annotations

import traceback

from celery.exceptions import TimeLimitExceeded

from shared.blobs import BlobUnavailable
from shared.blobs.analyses import UploadMissing
from shared.errors import ReadfaceError
from shared.job_states import FailureCode
from shared.settings import Settings
from worker.time_limit import AnalysisTimeLimit

UNEXPECTED = "The analysis failed unexpectedly."
BLOB_STORE_DOWN = "The blob store holding the image stayed unavailable; send it again later."
DECODE_TOO_LONG = "Decoding the image took too long; it is refused as it is."

# The hard limit is struck by the worker's main process, which cannot tell an attempt stuck in
# C code from one that ended but whose end it did not hear: with Redis cut off, its event loop
# waits out the broker's reconnection, and once back it fires the limit's timer before it reads
# the pool's finished task. So the first strike ends the attempt's lease (the sweeper sends the
# job again within a round) and only the second ends the job `timeout`: a job stuck for real
# costs two hard limits of a pool process, not one.
HARD_LIMIT_STRIKES = 2


def _while_decoding(error: BaseException) -> bool:
    """Whether the time limit struck inside worker.decode. It cannot interrupt C code: it is
    raised when the decoder returns, so the traceback still ends in the decode module."""
    return any(
        frame.f_globals.get("__name__") == "worker.decode"
        for frame, _ in traceback.walk_tb(error.__traceback__)
    )


def failure_for(error: BaseException, settings: Settings) -> tuple[FailureCode, str]:
    """The one mapping from how an analysis ended to the contract's failure code and message.
    Bad bytes, and a decode the time limit struck in, are permanent (`invalid_image`); the time
    limit elsewhere is `timeout` (the hard one always: the killed child cannot say where it was);
    anything else is `internal`. Time limits and `internal` are transient."""
    if isinstance(error, ReadfaceError):
        return FailureCode.INVALID_IMAGE, error.message
    if isinstance(error, UploadMissing):
        return FailureCode.INTERNAL, UploadMissing.message
    if isinstance(error, BlobUnavailable):
        return FailureCode.INTERNAL, BLOB_STORE_DOWN
    if isinstance(error, AnalysisTimeLimit):
        if _while_decoding(error):
            return FailureCode.INVALID_IMAGE, DECODE_TOO_LONG
        return FailureCode.TIMEOUT, _took_longer_than(settings.task_soft_time_limit)
    if isinstance(error, TimeLimitExceeded):
        return FailureCode.TIMEOUT, _took_longer_than(settings.task_hard_time_limit)
    return FailureCode.INTERNAL, UNEXPECTED


def _took_longer_than(seconds: float) -> str:
    return f"The analysis took longer than {seconds:g} seconds."
