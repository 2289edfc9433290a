"""Redis holds metadata only: 200 distinct phone photos through a Redis capped at 32 MB (which
held about 60 when annotated images lived in it), and the append-only file of `readface up`
growing by a few KB per photo, not by the photo."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import redis
import requests

from harness.images import phone_photo
from harness.readface_up import cleaned_up, serving_url, start_up
from harness.service import (
    poll,
    running_api,
    running_redis,
    running_worker,
    service_env,
    submit_all,
    wait_ready,
)

pytestmark = pytest.mark.integration
PHOTOS = 200
AOF_PHOTOS = 40
AOF_BYTES_PER_PHOTO = 32 * 1024


@pytest.mark.timeout(900)
def test_200_distinct_phone_photos_all_succeed_on_a_32_mb_redis() -> None:
    with running_redis(maxmemory="32mb") as server:
        # the queued-bytes quota is not what is tested here: one client sends them all
        env = service_env(server.url, READFACE_MAX_QUEUED_BYTES_PER_CLIENT=str(10**12))
        with running_worker(env, concurrency=2), running_api(env) as api:
            wait_ready(api)
            ids = submit_all(api, (phone_photo(i, 3264, 2448) for i in range(PHOTOS)))
            assert len(set(ids)) == PHOTOS
            for analysis_id in ids:
                done = api.wait_done(analysis_id, timeout=600)
                assert done["status"] == "succeeded" and len(done["result"]["faces"]) == 1
            memory = redis.Redis.from_url(server.url).info("memory")
        print(f"\n{PHOTOS} phone photos (2 MB): Redis used {memory['used_memory_human']}")
        assert memory["maxmemory"] == 32 * 1024**2


def aof_bytes(data_dir: Path) -> int:
    return sum(p.stat().st_size for p in (data_dir / "redis").rglob("*.aof"))


@pytest.mark.timeout(900)
def test_readface_up_s_append_only_file_grows_by_kilobytes_per_photo(tmp_path: Path) -> None:
    marker = f"READFACE_UP_TEST={uuid.uuid4().hex}"
    # Nor is the quota tested here: on a slow or busy machine the photos queue up faster than
    # one worker process ends them, and past 100 MB of queued work the next one would get 429.
    up, log = start_up(tmp_path, marker, READFACE_MAX_QUEUED_BYTES_PER_CLIENT=str(10**12))
    with cleaned_up(up, marker, tmp_path):
        url = serving_url(up, log)
        before = aof_bytes(tmp_path / "data")
        ids = []
        for index in range(AOF_PHOTOS):
            response = requests.post(
                f"{url}/v1/analyses",
                data=phone_photo(index, 3264, 2448),  # about 2 MB
                headers={"Content-Type": "image/jpeg"},
                timeout=60,
            )
            assert response.status_code == 202, response.text
            ids.append(response.json()["id"])
        for analysis_id in ids:
            poll(
                lambda a=analysis_id: requests.get(f"{url}/v1/analyses/{a}?wait=5", timeout=30)
                .json()["status"] == "succeeded",
                300,
                f"analysis {analysis_id} to succeed",
            )  # fmt: skip
        per_photo = (aof_bytes(tmp_path / "data") - before) / AOF_PHOTOS
        blobs = sum(p.stat().st_size for p in (tmp_path / "data" / "blobs").rglob("*"))
    print(f"\nreadface up: the AOF grew {per_photo / 1024:.1f} KB per 2 MB photo; blobs {blobs} B")
    assert per_photo < AOF_BYTES_PER_PHOTO
    assert blobs > 0  # the annotated images are in the data directory's blobs/
