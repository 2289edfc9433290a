"""What one client may hold in Redis at a time: queued work (shared/work_quota.py) and callbacks
per job."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.images import QUOTA, astronaut_jpeg
from harness.service import (
    UNWRITTEN,
    Api,
    assert_error,
    blob_dir_for,
    poll,
    running_api,
    running_redis,
    service_env,
    store_for,
)
from shared.settings import Settings
from shared.store import MAX_CALLBACKS_PER_JOB, Store
from shared.work_quota import job_cost

pytestmark = pytest.mark.integration


@pytest.fixture()
def queued_redis_url() -> Iterator[str]:
    with running_redis() as server:
        yield server.url


@pytest.fixture()
def queued_api(queued_redis_url: str) -> Iterator[Api]:
    """An API whose uploads stay queued (no worker), with a quota of 1.5 uploads per client."""
    env = service_env(
        queued_redis_url,
        READFACE_MAX_QUEUED_BYTES_PER_CLIENT=str(QUOTA),
        READFACE_CALLBACK_ALLOW_PRIVATE="1",
    )
    with running_api(env) as api:
        yield api


def test_uploads_past_the_client_quota_are_rate_limited(queued_api: Api) -> None:
    assert queued_api.submit(astronaut_jpeg(quality=90)).status_code == 202
    refused = queued_api.submit(astronaut_jpeg(quality=91))
    assert_error(refused, 429, "rate_limited")
    assert int(refused.headers["Retry-After"]) > 0


def test_the_same_bytes_again_cost_no_quota(queued_api: Api) -> None:
    assert queued_api.submit(astronaut_jpeg(quality=90)).status_code == 202
    assert queued_api.submit(astronaut_jpeg(quality=90)).status_code == 202  # joins the job


def test_deleting_a_queued_upload_gives_its_quota_back(queued_api: Api) -> None:
    first = queued_api.submit(astronaut_jpeg(quality=90)).json()["id"]
    assert queued_api.delete(f"/v1/analyses/{first}").status_code == 204
    assert queued_api.submit(astronaut_jpeg(quality=91)).status_code == 202


def test_a_refused_upload_stores_nothing(queued_api: Api, queued_redis_url: str) -> None:
    queued_api.submit(astronaut_jpeg(quality=90))
    assert queued_api.submit(astronaut_jpeg(quality=91)).status_code == 429
    jobs = [k for k in store_for(queued_redis_url).scan_keys() if b":job:" in k]
    assert len(jobs) == 1
    assert len(list(blob_dir_for(queued_redis_url).glob("uploads/*"))) == 1


def test_callbacks_per_job_are_capped(queued_api: Api) -> None:
    photo = astronaut_jpeg(quality=90)
    for n in range(MAX_CALLBACKS_PER_JOB):
        joined = queued_api.submit(photo, callback_url=f"http://127.0.0.1:9/hook/{n}")
        assert joined.status_code == 202, joined.text
    refused = queued_api.submit(photo, callback_url="http://127.0.0.1:9/hook/one-more")
    assert_error(refused, 422, "invalid_callback")
    assert str(MAX_CALLBACKS_PER_JOB) in refused.json()["error"]["message"]
    assert queued_api.submit(photo).status_code == 202  # joining without a callback still works


def quota_store(redis_url: str, **settings: int) -> Store:
    return Store(Settings(redis_url=redis_url, max_queued_bytes_per_client=QUOTA, **settings))


def claim_outcome(store: Store, analysis_id: str, quality: int) -> str:
    """Claim a job of a client for one photo, as the API does once its blob is written."""
    size = len(astronaut_jpeg(quality=quality))
    cost = job_cost(size, 512 * 512)
    return store.claim(analysis_id, size, "fp", None, "client", UNWRITTEN, cost).outcome


def test_an_ended_job_gives_its_quota_back(queued_redis_url: str) -> None:
    store = quota_store(queued_redis_url)
    assert claim_outcome(store, "a" * 64, 90) == "claimed"
    assert claim_outcome(store, "b" * 64, 91) == "over_quota"
    assert store.succeed("a" * 64, {"faces": []}, UNWRITTEN)  # what the worker does at the end
    assert claim_outcome(store, "b" * 64, 91) == "claimed"


def test_an_expired_upload_gives_its_quota_back(queued_redis_url: str) -> None:
    store = quota_store(queued_redis_url, upload_ttl=1)
    claim_outcome(store, "a" * 64, 90)
    poll(
        lambda: claim_outcome(store, "b" * 64, 91) == "claimed",
        timeout=5,
        what="the first upload to expire and free the quota",
        every=0.2,
    )
