"""An analysis's blobs kept in step with its job: the upload's bytes and the annotated image live
in the blob store, the job in Redis names them (shared/blobs/names.py), and every step orders
the two so that a crash leaves at most a blob no job names, which the blob sweeper removes:

- offer (API): a new job's upload is written before the job is claimed; an upload that then
  finds the id taken (a dedup hit, the job in flight) deletes its own blob.
- end (worker): the annotated image is written before the job ends and names it; the job ends
  first and the upload is deleted after, so a Redis blip between them never loses an upload.
- delete (API): the keys go in one step that returns the names, then the blobs.
A step that cannot tell whether Redis kept its write (a failed claim, a reply lost) leaves its
blob to the sweeper, which keeps it as long as a job names it.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

import redis

from shared.blobs.base import BlobStore, BlobStoreFull, BlobUnavailable, Source, source_size
from shared.blobs.names import CLAIM_DEADLINE_SECONDS, annotated_name, new_token, upload_name
from shared.job_states import FailureCode
from shared.store import Callback, Claim, ClaimOutcome, Job, JobBlobs, Store

log = logging.getLogger("readface.blobs")


class UploadMissing(Exception):
    """A pending job's upload is not in the blob store (lost with a volume, deleted by hand): the
    job ends as `internal`, so that the same bytes sent again are analysed anew."""

    message = "The uploaded image was no longer in the blob store; send it again."


class AnalysisBlobs:
    """One tenant's analyses: its scoped Store and the blob store, used together."""

    def __init__(self, store: Store, blobs: BlobStore) -> None:
        self.store = store
        self.blobs = blobs

    def offer(
        self,
        analysis_id: str,
        source: Source,
        fingerprint: str,
        callback: Callback | None,
        client: str | None,
        cost: int | None = None,
    ) -> Claim:
        """Offer an upload (Store.claim; `cost` its work, what it counts against the client's
        quota): its bytes are written to the blob store only when they make a new job.
        BlobUnavailable (or BlobStoreFull) leaves nothing behind."""
        size = source_size(source)
        claim = self.store.claim(analysis_id, size, fingerprint, callback, client, cost=cost)
        if claim.outcome is not ClaimOutcome.NEEDS_UPLOAD:
            return claim
        self._make_room(size)
        token = new_token()
        name = upload_name(self.store.tenant, analysis_id, token)
        deadline = time.monotonic() + CLAIM_DEADLINE_SECONDS
        self.blobs.put(name, source)
        try:
            self.store.count_blob_bytes(size)
            if time.monotonic() > deadline:  # the sweeper may take the blob for an orphan now
                raise BlobUnavailable(f"Writing {name} took over {CLAIM_DEADLINE_SECONDS} s.")
        except BaseException:
            self._discard(name, size)
            raise
        # A claim that fails half-way may still have been made: the blob sweeper asks the job.
        claim = self.store.claim(analysis_id, size, fingerprint, callback, client, token, cost)
        if claim.outcome is not ClaimOutcome.CLAIMED:
            self._discard(name, size)  # another upload of these bytes got there first
        elif claim.replaced_annotated:
            self._discard(annotated_name(self.store.tenant, analysis_id, claim.replaced_annotated))
        return claim

    def withdraw(self, job: Job) -> None:
        """Undo a claim whose task could not be sent. Its upload is left to the blob sweeper:
        after a failover (the reason the API withdraws a claim) the promoted replica may still
        hold the job, naming it, and the sweeper deletes only what no job names."""
        self.store.release(job)

    def upload_of(self, job: Job) -> bytes:
        """A pending job's uploaded bytes; UploadMissing if the blob store has lost them."""
        data = self.blobs.get(self._upload_name(job.id, job.upload)) if job.upload else None
        if data is None:
            raise UploadMissing(UploadMissing.message)
        return data

    def succeed(
        self, analysis_id: str, result: dict[str, Any], annotated: bytes
    ) -> JobBlobs | None:
        """Write the annotated image, then end the job with its result (Store.succeed): what it
        named as it ended (its callbacks too); None, and the image deleted again, if the job was
        deleted or had ended meanwhile."""
        name = annotated_name(self.store.tenant, analysis_id, token := new_token())
        size = self.blobs.put(name, annotated)
        try:
            self.store.count_blob_bytes(size)
        except BaseException:
            self._discard(name, size)
            raise
        # An end that fails half-way may still have been made: the blob sweeper asks the job.
        ended = self.store.succeed(analysis_id, result, token)
        if ended is None:
            self._discard(name, size)
            return None
        self._discard_upload(analysis_id, ended.upload, ended.upload_size)
        return ended

    def fail(self, analysis_id: str, code: FailureCode, message: str) -> JobBlobs | None:
        """End the job as failed (Store.fail) and delete its upload: what the job named as it
        ended; None if it had ended."""
        ended = self.store.fail(analysis_id, code, message)
        if ended is None:
            return None
        self._discard_upload(analysis_id, ended.upload, ended.upload_size)
        return ended

    def annotated_image(self, job: Job) -> bytes | None:
        """A succeeded job's annotated JPEG; None once it has expired."""
        if not job.annotated:
            return None
        return self.blobs.get(annotated_name(self.store.tenant, job.id, job.annotated))

    def delete(self, analysis_id: str) -> bool:
        """Remove every trace of an analysis, its blobs last; False if there was none.
        BlobUnavailable if the blob store failed after the keys went: what it kept, no job
        names any more, and the blob sweeper removes it."""
        gone: JobBlobs | None = self.store.delete(analysis_id)
        if gone is None:
            return False
        if gone.upload:
            self.blobs.delete(self._upload_name(analysis_id, gone.upload))
            self.store.count_blob_bytes(-gone.upload_size)
        if gone.annotated:
            self.blobs.delete(annotated_name(self.store.tenant, analysis_id, gone.annotated))
        return True

    def _make_room(self, size: int) -> None:
        """BlobStoreFull if `size` more bytes would pass the cap or the free-disk floor."""
        settings = self.store.settings
        cap = settings.blob_max_bytes
        if cap and self.store.blob_bytes() + size > cap:
            raise BlobStoreFull(f"The blob store holds its limit of {cap:,} bytes.")
        free = self.blobs.free_bytes()
        if free is not None and free - size < settings.blob_min_free_bytes:
            raise BlobStoreFull(f"The blob store's disk has under {free - size:,} bytes free.")

    def _upload_name(self, analysis_id: str, token: str) -> str:
        return upload_name(self.store.tenant, analysis_id, token)

    def _discard_upload(self, analysis_id: str, token: str | None, size: int) -> None:
        if token:
            self._discard(self._upload_name(analysis_id, token), size)

    def _discard(self, name: str, size: int = 0) -> None:
        """Delete a blob that no job names (any more), rather than fail what was done: with the
        blob store down, the blob sweeper deletes it later; with Redis down, recounts it."""
        try:
            self.blobs.delete(name)
        except BlobUnavailable as error:
            log.warning("blob %s is left for the sweeper: %s", name, error)
            return
        if size:
            with contextlib.suppress(redis.RedisError):  # the next blob sweep recounts
                self.store.count_blob_bytes(-size)
