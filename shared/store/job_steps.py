"""Jobs: offering bytes, starting, ending and deleting an analysis, each one atomic step."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any, cast

from redis.commands.core import Script

from shared.job_states import FailureCode, JobStatus
from shared.store.keys import (
    ANALYSIS_KEY_KINDS,
    MAX_CALLBACKS_PER_JOB,
    KeyedStore,
    attempt_lease_seconds,
)
from shared.store.records import (
    Callback,
    Claim,
    ClaimOutcome,
    Job,
    JobBlobs,
    StoredAnalysis,
    parse_callbacks,
    utc_now,
)


class JobSteps(KeyedStore):
    """The job half of the Store (the Store registers the scripts)."""

    _claim: Script
    _release: Script
    _start: Script
    _finish: Script
    _strike_hard_limit: Script
    _delete: Script

    def claim(
        self,
        analysis_id: str,
        size: int,
        fingerprint: str,
        callback: Callback | None,
        client: str | None = None,
        upload: str = "",
        cost: int | None = None,
    ) -> Claim:
        """Offer an upload of `size` bytes (see scripts.CLAIM): without `upload` (the token of
        its blob) a new job is only 'needs_upload'; with it, the job is claimed and names it, and
        waits in its client's fair queue (dispatch.py). A new job's `cost` (its work,
        shared/work_quota.py; its size if not given) counts against the client's quota until
        the job ends ('over_quota' beyond the limit); a client of None counts nowhere."""
        reply = self._claim(
            keys=[
                self.analysis_key("job", analysis_id),
                self.analysis_key("result", analysis_id),
                self.key("stats", "enqueued"),
                self.key("stats", "dedup_hits"),
                self.key("pending", client or ""),
                self.key("pending_bytes", client or ""),
                self.key("sweep", "queued"),
                self.key("fair", "turns"),
                self.key("fair", "served"),
                self.key("fair", f"queue:{client or ''}"),
                self.key("stats", "executions"),
            ],
            args=[
                fingerprint,
                utc_now(),
                callback.to_json() if callback else "",
                self.settings.upload_ttl,
                size,
                MAX_CALLBACKS_PER_JOB,
                client or "",
                int(time.time()),
                self.settings.max_queued_bytes_per_client,
                analysis_id,
                upload,
                size if cost is None else cost,
            ],
        )
        outcome = ClaimOutcome(reply[0].decode())
        if not reply[1]:
            return Claim(outcome, None)
        job = _job_from_flat(analysis_id, reply[1])
        assert job is not None  # the script returns the job it found or wrote
        if outcome is ClaimOutcome.CLAIMED:
            return Claim(outcome, StoredAnalysis(job, None), reply[2].decode() or None)
        result = json.loads(reply[2]) if len(reply) > 2 and reply[2] else None
        return Claim(outcome, StoredAnalysis(job, result))

    def release(self, job: Job) -> None:
        """Undo a claim whose task could not be enqueued (its upload's blob is the caller's)."""
        self._release(
            keys=[self.analysis_key("job", job.id), self.key("stats", "enqueued")],
            args=[job.created_at, job.id, self.settings.key_prefix],
        )

    def job(self, analysis_id: str) -> Job | None:
        raw = cast(dict[bytes, bytes], self.redis.hgetall(self.analysis_key("job", analysis_id)))
        return Job.from_hash(analysis_id, raw)

    def analysis(self, analysis_id: str) -> StoredAnalysis | None:
        """The job and its result, read together in one round trip; None if there is no job."""
        with self.redis.pipeline() as pipe:
            pipe.hgetall(self.analysis_key("job", analysis_id))
            pipe.get(self.analysis_key("result", analysis_id))
            raw, result = pipe.execute()
        job = Job.from_hash(analysis_id, raw)
        if job is None:
            return None
        stored = json.loads(result) if result and job.status is JobStatus.SUCCEEDED else None
        return StoredAnalysis(job, stored)

    def mark_running(self, analysis_id: str, attempt: str = "") -> Job | None:
        """Start an attempt (a task id) on this very job (a worker starts the job whose turn it
        is instead, Store.dispatch): queued job → running, held for the attempt's lease;
        the job as started. None if the job is gone or ended, or another attempt holds it
        (see START)."""
        started = self._start(
            keys=[
                self.analysis_key("job", analysis_id),
                self.key("stats", "executions"),
                self.key("sweep", "queued"),
                self.key("sweep", "running"),
            ],
            args=[
                utc_now(),
                attempt,
                int(attempt_lease_seconds(self.settings) * 1000),
                self.settings.upload_ttl,
            ],
        )
        return _job_from_flat(analysis_id, started) if started else None

    def succeed(self, analysis_id: str, result: dict[str, Any], annotated: str) -> JobBlobs | None:
        """Store the result, name the annotated image's blob (its token), end the job, wake
        pollers; None when the job was deleted or had already ended (nothing is written then)."""
        return self._end(analysis_id, JobStatus.SUCCEEDED, "", "", json.dumps(result), annotated)

    def fail(self, analysis_id: str, code: FailureCode, message: str) -> JobBlobs | None:
        """End the job as failed with a contract error code; wake pollers; None as above."""
        return self._end(analysis_id, JobStatus.FAILED, code.value, message)

    def strike_hard_limit(self, analysis_id: str, attempt: str) -> int:
        """Count a hard-limit strike on the running job `attempt` (a task id) holds and end
        that attempt's lease (the sweeper sends the job again on its next round); the job's
        strikes so far, 0 if the attempt no longer holds it."""
        keys = [self.analysis_key("job", analysis_id), self.key("sweep", "running")]
        return int(self._strike_hard_limit(keys=keys, args=[attempt]))

    def _end(
        self,
        analysis_id: str,
        status: JobStatus,
        error_code: str,
        error_message: str,
        result: str = "",
        annotated: str = "",
    ) -> JobBlobs | None:
        ended = self._finish(
            keys=[
                self.analysis_key("job", analysis_id),
                self.analysis_key("result", analysis_id),
                self.key("stats", status.value),
            ],
            args=[
                status.value,
                utc_now(),
                error_code,
                error_message,
                self.settings.result_ttl,
                self.analysis_key("done", analysis_id),
                result,
                annotated,
                analysis_id,
                self.settings.key_prefix,
            ],
        )
        if not ended:
            return None
        upload, size, callbacks = ended
        return JobBlobs(upload.decode() or None, None, int(size), parse_callbacks(callbacks))

    def delete(self, analysis_id: str) -> JobBlobs | None:
        """Remove every trace of an analysis from Redis; what its blobs were (for the caller to
        delete them), None if there was no trace."""
        removed, upload, annotated, size = cast(
            list,
            self._delete(
                keys=[self.analysis_key(kind, analysis_id) for kind in ANALYSIS_KEY_KINDS],
                args=[analysis_id, self.settings.key_prefix],
            ),
        )
        if not removed:
            return None
        return JobBlobs(upload.decode() or None, annotated.decode() or None, int(size))

    def scan_keys(self, analysis_id: str | None = None) -> Iterator[bytes]:
        """Every key under the prefix (or one analysis's keys), for tests and audits."""
        pattern = f"{self.settings.key_prefix}*{analysis_id or ''}*"
        yield from self.redis.scan_iter(match=pattern, count=500)


def _job_from_flat(analysis_id: str, flat: list[bytes]) -> Job | None:
    """A job from a script's HGETALL reply (a flat list of names and values)."""
    return Job.from_hash(analysis_id, dict(zip(flat[::2], flat[1::2], strict=True)))
