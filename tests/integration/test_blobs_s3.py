"""The service on an s3:// blob store, a real S3-compatible server (OpenStack Swift's s3api,
harness/swift_s3.py): photos analysed through it, DELETE, expiry and orphans swept, and the store
down in the middle of a load of uploads."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from harness.images import astronaut_jpegs
from harness.service import (
    Api,
    assert_error,
    poll,
    running_api,
    running_redis,
    running_worker,
    service_env,
    store_for,
    wait_ready,
)
from harness.swift_s3 import BUCKET, SwiftS3
from shared.blobs import BlobStore, open_blob_store
from shared.blobs.names import ORPHAN_SECONDS, new_token, upload_name
from shared.blobs.sweep import sweep_blobs
from shared.job_states import analysis_id_for
from shared.settings import Settings
from shared.store import Store

pytestmark = pytest.mark.integration
PREFIX = "service"


@dataclass
class S3Service:
    api: Api
    store: Store
    blobs: BlobStore
    swift: SwiftS3

    def objects(self, analysis_id: str = "") -> list[str]:
        """The keys of the objects in the service's prefix (of one analysis, if given)."""
        listed = self.swift.client().list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}/")
        keys = [o["Key"].removeprefix(f"{PREFIX}/") for o in listed.get("Contents", [])]
        return sorted(k for k in keys if analysis_id in k)


@pytest.fixture(scope="module")
def s3(swift: SwiftS3) -> Iterator[S3Service]:
    """Redis, one worker process and the API, their blobs in Swift under PREFIX."""
    with running_redis() as server:
        env = service_env(server.url, READFACE_BLOB_URL=swift.blob_url(PREFIX), **swift.env())
        with running_worker(env), running_api(env) as api:
            wait_ready(api)
            with pytest.MonkeyPatch.context() as patch:  # this process's client, the same way
                for name, value in swift.env().items():
                    patch.setenv(name, value)
                blobs = open_blob_store(Settings(blob_url=swift.blob_url(PREFIX)))
            yield S3Service(api, store_for(server.url), blobs, swift)


def test_a_photo_is_analysed_through_s3_and_deleted_from_it(s3: S3Service) -> None:
    [photo] = astronaut_jpegs(1)
    analysis_id = s3.api.submit(photo).json()["id"]
    assert s3.api.wait_done(analysis_id)["status"] == "succeeded"
    annotated = s3.api.get(f"/v1/analyses/{analysis_id}/annotated")
    assert annotated.status_code == 200 and annotated.content[:2] == b"\xff\xd8"
    poll(lambda: len(s3.objects(analysis_id)) == 1, 10, "the upload's object to go")
    [image] = s3.objects(analysis_id)
    assert image.startswith("annotated/") and s3.blobs.get(image) == annotated.content
    assert s3.api.delete(f"/v1/analyses/{analysis_id}").status_code == 204
    assert s3.objects(analysis_id) == []


def test_expired_images_and_orphans_are_swept_from_s3(s3: S3Service) -> None:
    [photo] = astronaut_jpegs(2)[1:]
    analysis_id = s3.api.submit(photo).json()["id"]
    assert s3.api.wait_done(analysis_id)["status"] == "succeeded"
    orphan = upload_name("", "e" * 64, new_token())  # a crash between writing and claiming
    s3.blobs.put(orphan, b"orphan")
    later = time.time() + ORPHAN_SECONDS + 1
    swept = sweep_blobs(s3.store, s3.blobs, now=later)
    assert swept.orphaned == 1 and not s3.blobs.exists(orphan)
    assert s3.api.get(f"/v1/analyses/{analysis_id}/annotated").status_code == 200
    later = time.time() + s3.store.settings.result_ttl + 1  # the result's lifetime has passed
    assert sweep_blobs(s3.store, s3.blobs, now=later).expired >= 1
    assert s3.objects(analysis_id) == []
    assert_error(s3.api.get(f"/v1/analyses/{analysis_id}/annotated"), 404, "not_found")


def test_the_store_down_mid_load_refuses_uploads_and_loses_nothing_accepted(
    s3: S3Service,
) -> None:
    photos = astronaut_jpegs(14)[2:]
    before, during, after = photos[:4], photos[4:8], photos[8:]
    accepted = [s3.api.submit(p) for p in before]
    assert {r.status_code for r in accepted} == {202}
    s3.swift.stop_proxy()
    try:
        refused = [s3.api.submit(p) for p in during]
        for response in refused:
            assert_error(response, 503, "unavailable")
            assert response.headers["Retry-After"] == "5"
        # what was accepted is still read from Redis
        assert s3.api.get(f"/v1/analyses/{accepted[0].json()['id']}").status_code == 200
    finally:
        s3.swift.start_proxy()
    for photo in during:  # nothing was half-accepted: no job, no quota held
        assert s3.store.job(analysis_id_for(photo)) is None
    accepted += [s3.api.submit(p) for p in after + during]  # the refused ones, sent again
    assert {r.status_code for r in accepted} == {202}
    for response in accepted:
        assert s3.api.wait_done(response.json()["id"], timeout=240)["status"] == "succeeded"
    # an upload whose job ended while the store was down is left to the blob sweeper
    sweep_blobs(s3.store, s3.blobs, now=time.time() + ORPHAN_SECONDS + 1)
    assert [k for k in s3.objects() if k.startswith("uploads/")] == []
    assert s3.store.redis.get(s3.store.key("pending_bytes", "127.0.0.1")) == b"0"
