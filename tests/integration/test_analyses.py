"""Submit, poll, dedup, long-poll, annotated image, delete: the happy paths over real HTTP."""

from __future__ import annotations

import io
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jsonschema
import pytest
from PIL import Image

from harness.images import astronaut_jpeg
from harness.service import UNWRITTEN, Api, poll
from shared.job_states import analysis_id_for
from shared.store import Store
from tests.schemas import component_schema

pytestmark = pytest.mark.integration


def test_submit_then_poll_gives_the_faces(api: Api, blob_dir: Path) -> None:
    data = astronaut_jpeg(quality=91)
    response = api.submit(data)
    assert response.status_code == 202
    body = response.json()
    assert body["status"] in ("queued", "running")
    assert response.headers["Location"] == f"/v1/analyses/{body['id']}"
    done = api.wait_done(body["id"])
    jsonschema.validate(done, component_schema("Analysis"))
    assert done["status"] == "succeeded" and done["finished_at"]
    [face] = done["result"]["faces"]
    assert face["gender"]["label"] == "female"
    assert face["expression"]["label"] == "happy"
    assert done["result"]["model"]["pack"] == "default"
    # the upload's blob goes right after the job ended; the annotated image's is there
    poll(lambda: not list(blob_dir.glob(f"uploads/{body['id']}.*")), 10, "the upload to go")
    assert len(list(blob_dir.glob(f"annotated/{body['id']}.*.jpg"))) == 1


def test_multipart_upload_is_the_same_analysis(api: Api) -> None:
    data = astronaut_jpeg(quality=92)
    first = api.post("/v1/analyses", files={"image": ("a.jpg", data, "image/jpeg")})
    assert first.status_code == 202
    second = api.submit(data)
    assert second.json()["id"] == first.json()["id"]


def test_same_bytes_twice_runs_one_task(api: Api, store: Store) -> None:
    data = astronaut_jpeg(quality=93)
    first = api.submit(data).json()
    api.wait_done(first["id"])
    before = store.counters()
    again = api.submit(data)
    assert again.status_code == 200
    assert again.json()["id"] == first["id"] and again.json()["status"] == "succeeded"
    assert again.json()["result"]["faces"]
    after = store.counters()
    assert after["executions"] == before["executions"]
    assert after["enqueued"] == before["enqueued"]
    assert after["dedup_hits"] == before["dedup_hits"] + 1


def test_a_claim_released_after_a_failed_enqueue_leaves_nothing(store: Store) -> None:
    data = astronaut_jpeg(quality=61)
    analysis_id = analysis_id_for(data)
    before = store.counters()["enqueued"]
    claim = store.claim(analysis_id, len(data), "fingerprint", None, upload=UNWRITTEN)
    assert claim.outcome == "claimed" and claim.analysis.job.status == "queued"
    assert store.counters()["enqueued"] == before + 1
    store.release(claim.analysis.job)
    assert list(store.scan_keys(analysis_id)) == []
    assert store.counters()["enqueued"] == before


def test_twenty_concurrent_same_uploads_run_once(api: Api, store: Store) -> None:
    data = astronaut_jpeg(quality=94)
    before = store.counters()["executions"]
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda _: api.submit(data), range(20)))
    assert {r.status_code for r in responses} <= {200, 202}
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 1
    api.wait_done(ids.pop())
    assert store.counters()["executions"] == before + 1


def test_long_poll_returns_when_the_job_ends(api: Api) -> None:
    data = astronaut_jpeg(quality=95)
    analysis_id = api.submit(data).json()["id"]
    started = time.monotonic()
    body = api.get(f"/v1/analyses/{analysis_id}", params={"wait": 30}).json()
    elapsed = time.monotonic() - started
    assert body["status"] == "succeeded"
    assert elapsed < 15  # woken by the worker's publish, not by the 30 s timeout


def test_long_poll_times_out_with_the_current_state(api: Api, store: Store) -> None:
    analysis_id = "e" * 64
    store.claim(analysis_id, 3, "nobody-runs-this", None, upload=UNWRITTEN)  # queued, never sent
    try:
        started = time.monotonic()
        body = api.get(f"/v1/analyses/{analysis_id}", params={"wait": 1}).json()
        assert body["status"] == "queued"
        assert 0.9 <= time.monotonic() - started < 5
    finally:
        store.delete(analysis_id)


def test_annotated_image_is_served(api: Api) -> None:
    analysis_id = api.submit(astronaut_jpeg(quality=96)).json()["id"]
    api.wait_done(analysis_id)
    response = api.get(f"/v1/analyses/{analysis_id}/annotated")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(response.content)).size == (512, 512)


def test_delete_removes_every_key(api: Api, store: Store) -> None:
    analysis_id = api.submit(astronaut_jpeg(quality=97)).json()["id"]
    api.wait_done(analysis_id)
    assert list(store.scan_keys(analysis_id))
    assert api.delete(f"/v1/analyses/{analysis_id}").status_code == 204
    assert list(store.scan_keys(analysis_id)) == []
    assert api.get(f"/v1/analyses/{analysis_id}").status_code == 404
    assert api.delete(f"/v1/analyses/{analysis_id}").status_code == 404


def test_invalid_image_fails_permanently_and_resubmit_returns_the_failure(
    api: Api, store: Store
) -> None:
    data = astronaut_jpeg(quality=98)
    cut = data[: len(data) // 2]  # a readable header, a truncated scan
    analysis_id = api.submit(cut).json()["id"]
    failed = api.wait_done(analysis_id)
    assert failed["status"] == "failed" and failed["error"]["code"] == "invalid_image"
    annotated = api.get(f"/v1/analyses/{analysis_id}/annotated")
    assert annotated.status_code == 409 and annotated.json()["error"]["code"] == "failed"
    executions = store.counters()["executions"]
    again = api.submit(cut)
    assert again.status_code == 200 and again.json()["status"] == "failed"
    assert store.counters()["executions"] == executions


def test_annotated_is_not_ready_while_queued(api: Api, store: Store) -> None:
    analysis_id = "d" * 64
    store.claim(analysis_id, 3, "nobody-runs-this", None, upload=UNWRITTEN)
    try:
        response = api.get(f"/v1/analyses/{analysis_id}/annotated")
        assert response.status_code == 409 and response.json()["error"]["code"] == "not_ready"
    finally:
        store.delete(analysis_id)


def test_every_key_has_a_ttl(api: Api, store: Store) -> None:
    analysis_id = api.submit(astronaut_jpeg(quality=89)).json()["id"]
    api.wait_done(analysis_id)
    keys = list(store.scan_keys(analysis_id))
    assert keys
    for key in keys:
        assert store.redis.ttl(key) > 0, key


def test_metrics_report_jobs_and_queues(api: Api) -> None:
    poll(lambda: "readface_succeeded_total" in api.get("/metrics").text, 10, "metrics")
    text = api.get("/metrics").text
    for name in (
        "readface_executions_total",
        "readface_dedup_hits_total",
        'readface_queue_depth{queue="analyze"}',
        "readface_http_request_seconds_bucket",
    ):
        assert name in text
