"""What the store reads and returns: jobs, analyses and the outcome of offering bytes."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from shared.job_states import JobStatus


def utc_now() -> str:
    """ISO 8601 UTC with milliseconds and a Z, as the contract shows."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Callback:
    """One URL a finished analysis is POSTed to, and the webhook-id every attempt carries."""

    url: str
    message_id: str

    @classmethod
    def for_url(cls, url: str) -> Callback:
        return cls(url, f"msg_{uuid.uuid4().hex}")

    def to_json(self) -> str:
        return json.dumps({"url": self.url, "message_id": self.message_id})


def parse_callbacks(text: str) -> tuple[Callback, ...]:
    """A job hash's `callbacks` field (a JSON list of {url, message_id})."""
    return tuple(Callback(c["url"], c["message_id"]) for c in json.loads(text))


@dataclass(frozen=True, slots=True)
class Job:
    """One analysis as stored (see keys.py)."""

    id: str
    status: JobStatus
    created_at: str
    finished_at: str | None
    fingerprint: str
    attempts: int
    error_code: str | None
    error_message: str | None
    callbacks: tuple[Callback, ...]
    # The tokens of the job's blobs (shared/blobs/names.py): its upload while it is pending, its
    # annotated image once it succeeded; and the upload's size.
    upload: str | None = None
    annotated: str | None = None
    size: int = 0

    @classmethod
    def from_hash(cls, analysis_id: str, raw: dict[bytes, bytes]) -> Job | None:
        """The job from its Redis hash; None when there is no job."""
        fields = {k.decode(): v.decode() for k, v in raw.items()}
        if "status" not in fields:
            return None
        return cls(
            id=analysis_id,
            status=JobStatus(fields["status"]),
            created_at=fields.get("created_at", ""),
            finished_at=fields.get("finished_at") or None,
            fingerprint=fields.get("fingerprint", ""),
            attempts=int(fields.get("attempts", "0")),
            error_code=fields.get("error_code") or None,
            error_message=fields.get("error_message") or None,
            callbacks=parse_callbacks(fields.get("callbacks") or "[]"),
            upload=fields.get("upload") or None,
            annotated=fields.get("annotated") or None,
            size=int(fields.get("size") or "0"),
        )


@dataclass(frozen=True, slots=True)
class StoredAnalysis:
    """A job and, once it succeeded, its result: what the analysis resource is built from."""

    job: Job
    result: dict[str, Any] | None


class ClaimOutcome(StrEnum):
    """What offering bytes did (the words the claim script returns)."""

    NEEDS_UPLOAD = "needs_upload"  # a new job, once its upload is in the blob store
    CLAIMED = "claimed"  # a new job: enqueue it
    JOINED = "joined"  # the same bytes are in flight; the callback, if any, joined them
    STORED = "stored"  # a dedup hit, or a stored permanent failure
    CALLBACKS_FULL = "callbacks_full"  # refused: the job in flight has its most callbacks
    OVER_QUOTA = "over_quota"  # refused: the client's queued uploads would pass its limit


@dataclass(frozen=True, slots=True)
class Claim:
    """The outcome of offering bytes and the analysis as it stands after the claim (None when
    the offer was refused)."""

    outcome: ClaimOutcome
    analysis: StoredAnalysis | None
    # A claim over an ended job replaces its result: the token of its annotated image, if any.
    replaced_annotated: str | None = None


@dataclass(frozen=True, slots=True)
class JobBlobs:
    """The blobs a job named as it ended or was deleted, for the caller to delete: the tokens of
    its upload (None once the job had ended) and annotated image, and the upload's size."""

    upload: str | None
    annotated: str | None
    upload_size: int
    # A job's callbacks when it ended (Store.succeed and fail), for the worker to deliver.
    callbacks: tuple[Callback, ...] = ()
