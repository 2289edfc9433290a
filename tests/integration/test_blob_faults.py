"""The blob store failing under a running service (file://): full, below its disk floor or down,
uploads get 503 with Retry-After and nothing is half-accepted; a worker waits a failure out; a job
whose upload was lost ends with a clear failure."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.images import astronaut_jpeg
from harness.service import (
    UNWRITTEN,
    Api,
    assert_error,
    blob_dir_for,
    poll,
    running_api,
    running_redis,
    running_worker,
    service_env,
    store_for,
    wait_ready,
)
from shared.blobs.analyses import UploadMissing
from shared.blobs.names import ORPHAN_SECONDS
from shared.celery_app import ANALYZE_TASK, create_celery_app, task_args
from shared.settings import Settings
from shared.store import Store
from shared.work_quota import job_cost

pytestmark = pytest.mark.integration


def test_a_job_whose_upload_was_lost_fails_as_internal(
    api: Api, store: Store, redis_url: str
) -> None:
    analysis_id = "9" * 64
    store.claim(analysis_id, 1000, "fp", None, "client", UNWRITTEN)  # its blob never written
    create_celery_app(Settings(redis_url=redis_url)).send_task(
        ANALYZE_TASK, args=task_args("", analysis_id)
    )
    failed = api.wait_done(analysis_id)
    assert failed["status"] == "failed"
    assert failed["error"] == {"code": "internal", "message": UploadMissing.message}
    assert store.redis.get(store.key("pending_bytes", "client")) == b"0"


def block_uploads(blobs: Path) -> Callable[[], None]:
    """The store down: a file where the uploads' directory should be. Returns the repair."""
    uploads, aside = blobs / "uploads", blobs / "uploads-aside"
    uploads.rename(aside)
    uploads.write_bytes(b"")

    def repair() -> None:
        uploads.unlink()
        aside.rename(uploads)

    return repair


FAULTS = {
    "full": ({"READFACE_BLOB_MAX_BYTES": "1000"}, "30"),
    "under the disk floor": ({"READFACE_BLOB_MIN_FREE_BYTES": str(10**18)}, "30"),
    "down": ({}, "5"),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_uploads_to_a_failing_blob_store_are_refused_and_leave_nothing(fault: str) -> None:
    settings, retry_after = FAULTS[fault]
    photo, first = astronaut_jpeg(61), astronaut_jpeg(62)
    with running_redis() as server:
        blobs = blob_dir_for(server.url)
        with running_api(service_env(server.url, **settings)) as api:  # no worker: jobs wait
            accepted = api.submit(first).json()["id"] if fault == "down" else None
            repair = block_uploads(blobs) if fault == "down" else None
            refused = api.submit(photo)
            assert_error(refused, 503, "unavailable")
            assert refused.headers["Retry-After"] == retry_after
            store = store_for(server.url)
            keys = {k.decode().split(":")[1] for k in store.scan_keys()}
            assert keys <= {"job", "pending", "pending_bytes", "stats", "sweep", "fair", "rate"}
            assert [k for k in store.scan_keys() if b":job:" in k] == (
                [store.analysis_key("job", accepted).encode()] if accepted else []
            )
            pending = store.redis.get(store.key("pending_bytes", "127.0.0.1")) or b"0"
            held = job_cost(len(first), 512 * 512) if accepted else 0
            assert int(pending) == held  # no quota held by the refused upload
            assert store.counters()["enqueued"] == (1 if accepted else 0)
            if repair is not None:
                assert api.get(f"/v1/analyses/{accepted}").json()["status"] == "queued"
                repair()
                assert api.submit(photo).status_code == 202


def test_a_worker_waits_out_a_blob_store_failure(tmp_path: Path) -> None:
    with running_redis() as server:
        env = service_env(server.url)
        blobs = blob_dir_for(server.url)
        with running_worker(env), running_api(env) as api:
            wait_ready(api)
            blobs.mkdir(parents=True, exist_ok=True)
            (blobs / "annotated").write_bytes(b"")  # annotated images cannot be written
            analysis_id = api.submit(astronaut_jpeg(63)).json()["id"]
            store = store_for(server.url)
            poll(
                lambda: (job := store.job(analysis_id)) is not None and job.attempts >= 2,
                60,
                "the worker to retry the job",
            )
            assert store.job(analysis_id).status == "running"  # type: ignore[union-attr]
            (blobs / "annotated").unlink()
            done = api.wait_done(analysis_id)
            assert done["status"] == "succeeded"
            assert api.get(f"/v1/analyses/{analysis_id}/annotated").status_code == 200


def test_a_worker_sweeps_orphaned_blobs_and_recounts_the_store() -> None:
    with running_redis() as server:
        blobs = blob_dir_for(server.url)
        orphan = blobs / "uploads" / f"{'a' * 64}.{'b' * 16}"  # a crash before its claim
        orphan.parent.mkdir(parents=True)
        orphan.write_bytes(b"orphan")
        long_ago = time.time() - ORPHAN_SECONDS - 1
        os.utime(orphan, (long_ago, long_ago))
        fresh = blobs / "uploads" / f"{'c' * 64}.{'d' * 16}"  # its claim may still come
        fresh.write_bytes(b"fresh")
        store = store_for(server.url)
        store.count_blob_bytes(10**9)  # a count gone astray
        with running_worker(service_env(server.url, READFACE_BLOB_SWEEP_SECONDS="1")):
            poll(lambda: not orphan.exists(), 60, "the blob sweeper to delete the orphan")
            poll(lambda: store.blob_bytes() == len(b"fresh"), 10, "the sweep to recount")
        assert fresh.exists()
