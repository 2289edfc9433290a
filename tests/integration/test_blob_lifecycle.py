"""An analysis's blobs kept in step with its job (shared/blobs/analyses.py) and the blob sweep
(shared/blobs/sweep.py), on a real Redis and a file:// store, with no worker: every step is taken
by the test, so that each order of events (and each crash between two steps) is deterministic."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness.images import astronaut_jpeg
from harness.service import analyses_for, blob_dir_for, running_redis
from shared.blobs import BlobStoreFull
from shared.blobs.analyses import AnalysisBlobs, UploadMissing
from shared.blobs.names import ORPHAN_SECONDS, annotated_name, new_token, upload_name
from shared.blobs.sweep import sweep_blobs
from shared.job_states import FailureCode, analysis_id_for
from shared.store import ClaimOutcome, Job, Store

pytestmark = pytest.mark.integration
RESULT = {"faces": []}


@pytest.fixture()
def redis_url() -> Iterator[str]:
    with running_redis() as server:
        yield server.url


@pytest.fixture()
def analyses(redis_url: str) -> AnalysisBlobs:
    return analyses_for(redis_url)


def claimed(analyses: AnalysisBlobs, photo: bytes, client: str | None = None) -> Job:
    claim = analyses.offer(analysis_id_for(photo), photo, "fp", None, client)
    assert claim.outcome is ClaimOutcome.CLAIMED and claim.analysis is not None
    return claim.analysis.job


def blobs_of(redis_url: str, analysis_id: str) -> list[str]:
    root = blob_dir_for(redis_url)
    return sorted(str(p.relative_to(root)) for p in root.rglob(f"*{analysis_id}*"))


def age(redis_url: str, name: str, seconds: float) -> None:
    """Make a blob look written `seconds` ago."""
    path = blob_dir_for(redis_url) / name
    os.utime(path, (time.time() - seconds,) * 2)


def test_a_new_upload_is_a_blob_and_its_job_only_names_it(
    analyses: AnalysisBlobs, redis_url: str
) -> None:
    photo = astronaut_jpeg(41)
    job = claimed(analyses, photo, "client")
    assert job.upload and job.size == len(photo)
    assert analyses.blobs.get(upload_name("", job.id, job.upload)) == photo
    assert [k.split(b":")[-2] for k in analyses.store.scan_keys(job.id)] == [b"job"]
    assert analyses.store.blob_bytes() == len(photo)
    assert analyses.upload_of(job) == photo


def test_uploads_that_find_the_job_in_flight_or_done_leave_no_blob(
    analyses: AnalysisBlobs, redis_url: str
) -> None:
    photo = astronaut_jpeg(42)
    analysis_id = analysis_id_for(photo)
    with ThreadPoolExecutor(10) as pool:
        claims = list(
            pool.map(lambda _: analyses.offer(analysis_id, photo, "fp", None, "c"), range(10))
        )
    outcomes = sorted(c.outcome for c in claims)
    assert outcomes == [ClaimOutcome.CLAIMED] + [ClaimOutcome.JOINED] * 9
    [job] = [c.analysis.job for c in claims if c.outcome is ClaimOutcome.CLAIMED]  # type: ignore[union-attr]
    assert blobs_of(redis_url, analysis_id) == [upload_name("", analysis_id, job.upload or "")]
    assert analyses.succeed(analysis_id, RESULT, b"annotated jpeg")
    [image] = blobs_of(redis_url, analysis_id)  # the upload went when the job ended
    assert image.startswith("annotated/")
    assert analyses.offer(analysis_id, photo, "fp", None, "c").outcome is ClaimOutcome.STORED
    assert blobs_of(redis_url, analysis_id) == [image]  # a dedup hit writes nothing
    assert analyses.store.blob_bytes() == len(b"annotated jpeg")


def test_a_withdrawn_claim_holds_nothing_and_its_upload_is_swept(
    analyses: AnalysisBlobs, redis_url: str
) -> None:
    job = claimed(analyses, astronaut_jpeg(43), "client")
    analyses.withdraw(job)
    assert list(analyses.store.scan_keys(job.id)) == []
    assert analyses.store.redis.get(analyses.store.key("pending_bytes", "client")) == b"0"
    # a promoted replica could still hold the job: the sweeper decides, by the job
    later = time.time() + ORPHAN_SECONDS + 1
    assert sweep_blobs(analyses.store, analyses.blobs, now=later).orphaned == 1
    assert blobs_of(redis_url, job.id) == []
    assert analyses.store.blob_bytes() == 0


def test_a_failed_job_loses_its_upload_and_delete_loses_everything(
    analyses: AnalysisBlobs, redis_url: str
) -> None:
    failed, succeeded = (claimed(analyses, astronaut_jpeg(q)) for q in (44, 45))
    assert analyses.fail(failed.id, FailureCode.INVALID_IMAGE, "bad")
    assert blobs_of(redis_url, failed.id) == []
    assert analyses.succeed(succeeded.id, RESULT, b"image")
    assert analyses.delete(succeeded.id) and analyses.delete(failed.id)
    assert blobs_of(redis_url, succeeded.id) == []
    assert not analyses.delete(succeeded.id)


def test_an_attempt_whose_job_was_deleted_meanwhile_keeps_no_image(
    analyses: AnalysisBlobs, redis_url: str
) -> None:
    job = claimed(analyses, astronaut_jpeg(46))
    assert analyses.store.mark_running(job.id, "attempt")
    assert analyses.delete(job.id)  # while the worker runs it
    assert not analyses.succeed(job.id, RESULT, b"image")
    assert blobs_of(redis_url, job.id) == []


def test_a_lost_upload_is_said_so(analyses: AnalysisBlobs, redis_url: str) -> None:
    job = claimed(analyses, astronaut_jpeg(47))
    analyses.blobs.delete(upload_name("", job.id, job.upload or ""))
    with pytest.raises(UploadMissing):
        analyses.upload_of(job)


def test_a_rerun_replaces_the_annotated_image(analyses: AnalysisBlobs, redis_url: str) -> None:
    photo = astronaut_jpeg(48)
    job = claimed(analyses, photo)
    assert analyses.succeed(job.id, RESULT, b"old pack's image")
    rerun = analyses.offer(job.id, photo, "another pack", None, None)
    assert rerun.outcome is ClaimOutcome.CLAIMED
    assert [n.split("/")[0] for n in blobs_of(redis_url, job.id)] == ["uploads"]


def test_the_sweep_deletes_orphans_and_expired_blobs_and_counts_the_rest(
    analyses: AnalysisBlobs, redis_url: str
) -> None:
    settings = analyses.store.settings
    pending = claimed(analyses, astronaut_jpeg(49))
    done = claimed(analyses, astronaut_jpeg(50))
    assert analyses.succeed(done.id, RESULT, b"image")
    old = ORPHAN_SECONDS + 1
    # a crash between writing an upload and claiming its job, long ago and just now
    crashed, fresh = (upload_name("", "f" * 64, new_token()) for _ in range(2))
    for name in (crashed, fresh):
        analyses.blobs.put(name, b"orphan")
    left_by_crash = annotated_name("", done.id, new_token())  # written, its job never named it
    analyses.blobs.put(left_by_crash, b"unnamed image")
    for name in (crashed, left_by_crash, upload_name("", pending.id, pending.upload or "")):
        age(redis_url, name, old)
    temporary = blob_dir_for(redis_url) / "uploads" / ".tmp-abcdef"
    temporary.write_bytes(b"half")
    age(redis_url, "uploads/.tmp-abcdef", old)

    swept = sweep_blobs(analyses.store, analyses.blobs)
    assert (swept.expired, swept.orphaned, swept.kept) == (0, 3, 3)
    assert not analyses.blobs.exists(crashed) and not temporary.exists()
    assert analyses.blobs.exists(fresh)
    assert analyses.upload_of(pending) == astronaut_jpeg(49)
    assert analyses.store.blob_bytes() == swept.kept_bytes == 6 + len(astronaut_jpeg(49)) + 5

    # a result's lifetime later, the image is gone with it; the upload of a job that waited
    # that long too
    later = time.time() + settings.result_ttl + 1
    swept = sweep_blobs(analyses.store, analyses.blobs, now=later)
    assert (swept.expired, swept.kept, swept.kept_bytes) == (3, 0, 0)
    assert blobs_of(redis_url, done.id) == []
    assert analyses.store.blob_bytes() == 0


def test_blobs_of_other_tenants_are_apart_and_swept_by_their_own_jobs(redis_url: str) -> None:
    photo = astronaut_jpeg(51)
    alice, bob = analyses_for(redis_url, "alice"), analyses_for(redis_url, "bob")
    alice_job, bob_job = claimed(alice, photo), claimed(bob, photo)
    names = blobs_of(redis_url, alice_job.id)
    assert names == sorted(
        [
            upload_name("alice", alice_job.id, alice_job.upload or ""),
            upload_name("bob", bob_job.id, bob_job.upload or ""),
        ]
    )
    for name in names:
        age(redis_url, name, ORPHAN_SECONDS + 1)
    assert bob.delete(bob_job.id)
    assert sweep_blobs(alice.store.for_tenant(""), alice.blobs).orphaned == 0
    assert alice.upload_of(alice_job) == photo
    assert blobs_of(redis_url, alice_job.id) == names[:1]


def test_new_uploads_past_the_byte_cap_are_refused_before_any_write(redis_url: str) -> None:
    photo, refused = astronaut_jpeg(52), astronaut_jpeg(53)
    analyses = analyses_for(redis_url)
    settings = dataclasses.replace(analyses.store.settings, blob_max_bytes=len(photo))
    capped = AnalysisBlobs(Store(settings), analyses.blobs)
    claimed(capped, photo)
    with pytest.raises(BlobStoreFull, match="limit of"):
        capped.offer(analysis_id_for(refused), refused, "fp", None, "client")
    assert blobs_of(redis_url, analysis_id_for(refused)) == []
    assert list(capped.store.scan_keys(analysis_id_for(refused))) == []
