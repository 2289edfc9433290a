"""Job states, failure codes and analysis ids: the words every layer uses for an analysis
and where it is (the store's steps that move a job between states are shared/store/job_steps.py)."""

from __future__ import annotations

import hashlib
from enum import StrEnum


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED)


class FailureCode(StrEnum):
    INVALID_IMAGE = "invalid_image"  # permanent: the same bytes will fail the same way
    TIMEOUT = "timeout"  # transient: re-submitting re-queues
    INTERNAL = "internal"  # transient


def analysis_id_for(data: bytes) -> str:
    """The id of an analysis: the lowercase hex SHA-256 of the exact uploaded bytes."""
    return hashlib.sha256(data).hexdigest()


def is_analysis_id(value: str) -> bool:
    """An id is the lowercase hex SHA-256 of the uploaded bytes."""
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)
