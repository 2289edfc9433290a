"""What a re-upload reuses and what it re-runs; what a late worker may write; start-up checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.images import astronaut_jpeg
from harness.service import (
    UNWRITTEN,
    Api,
    blob_dir_for,
    paused_at,
    poll,
    running_api,
    running_redis,
    running_worker,
    service_env,
    start_worker_expecting_refusal,
    store_for,
    wait_ready,
)
from shared.job_states import FailureCode, analysis_id_for
from shared.manifest import load_pack
from shared.store import Store

pytestmark = pytest.mark.integration


def current_fingerprint() -> str:
    return load_pack("default").fingerprint


@pytest.mark.parametrize("code", [FailureCode.TIMEOUT, FailureCode.INTERNAL])
def test_transient_failure_is_requeued_on_resubmit(
    api: Api, store: Store, code: FailureCode
) -> None:
    data = astronaut_jpeg(quality=71 if code is FailureCode.TIMEOUT else 72)
    analysis_id = analysis_id_for(data)
    # A job that ran and failed transiently, written the way the worker writes it.
    store.claim(analysis_id, len(data), current_fingerprint(), None, upload=UNWRITTEN)
    assert store.mark_running(analysis_id)
    assert store.fail(analysis_id, code, "stand-in failure")
    response = api.submit(data)
    assert response.status_code == 202
    assert api.wait_done(analysis_id)["status"] == "succeeded"


# The analysis limit, 1 s, against a pause injected at a named stage: the hard limit (60 s) is
# far off, and nothing depends on how fast the machine runs the pipeline.
LIMITS = {"READFACE_TASK_SOFT_TIME_LIMIT": "1", "READFACE_TASK_HARD_TIME_LIMIT": "60"}


def test_slow_analysis_times_out_and_a_resubmit_requeues_it() -> None:
    # An hour's pause after the decode: the limit strikes in the pipeline, so `timeout` (not
    # `invalid_image`, a strike in the decode), and by the 1 s limit, not the hard one.
    data = astronaut_jpeg(quality=75)
    with running_redis() as server:
        env = service_env(server.url, **LIMITS, **paused_at("detect", 3600))
        with running_worker(env), running_api(env) as api:
            wait_ready(api)
            analysis_id = api.submit(data).json()["id"]
            failed = api.wait_done(analysis_id)
            assert failed["status"] == "failed" and failed["error"]["code"] == "timeout"
            assert failed["error"]["message"] == "The analysis took longer than 1 seconds."
            store = store_for(server.url)
            uploads = blob_dir_for(server.url) / "uploads"
            poll(lambda: not list(uploads.iterdir()), 10, "the failed job's upload to go")
            executions = store.counters()["executions"]
            assert api.submit(data).status_code == 202
            api.wait_done(analysis_id)
            assert store.counters()["executions"] == executions + 1


@pytest.mark.parametrize("stage", ["upload", "outcome"])
def test_the_time_limit_never_strikes_outside_the_pipeline(stage: str) -> None:
    # 3 s spent reading the upload, or writing the outcome, against a 1 s limit: only the
    # pipeline is timed. (Celery's soft limit struck anywhere in the task, Celery's and billiard's
    # code included; there it once cut the pool's result message in two and killed the consumer.)
    data = astronaut_jpeg(quality=74)
    with running_redis() as server:
        env = service_env(server.url, **LIMITS, **paused_at(stage, 3))
        with running_worker(env), running_api(env) as api:
            wait_ready(api)
            ended = api.wait_done(api.submit(data).json()["id"])
            assert ended["status"] == "succeeded", ended


def test_result_of_another_model_pack_is_rerun(api: Api, store: Store) -> None:
    data = astronaut_jpeg(quality=73)
    analysis_id = analysis_id_for(data)
    store.claim(analysis_id, len(data), "an-old-pack", None, upload=UNWRITTEN)
    assert store.mark_running(analysis_id)
    assert store.succeed(analysis_id, {"faces": []}, UNWRITTEN)
    response = api.submit(data)
    assert response.status_code == 202
    done = api.wait_done(analysis_id)
    assert done["result"]["model"]["version"] == current_fingerprint()
    assert len(done["result"]["faces"]) == 1


def test_worker_finishing_after_delete_writes_nothing(store: Store) -> None:
    analysis_id = "b" * 64
    store.claim(analysis_id, 3, current_fingerprint(), None, upload=UNWRITTEN)
    assert store.mark_running(analysis_id)
    assert store.delete(analysis_id)
    assert not store.succeed(analysis_id, {"faces": []}, UNWRITTEN)
    assert not store.fail(analysis_id, FailureCode.INTERNAL, "late")
    assert not store.mark_running(analysis_id)
    assert list(store.scan_keys(analysis_id)) == []


def test_worker_refuses_to_start_with_missing_model_files(tmp_path: Path) -> None:
    run = start_worker_expecting_refusal(READFACE_MODEL_DIR=str(tmp_path))
    assert run.returncode != 0
    for model_file in load_pack("default").files:
        assert model_file.name in run.stderr, run.stderr


def test_worker_refuses_to_start_with_a_malformed_webhook_secret() -> None:
    run = start_worker_expecting_refusal(READFACE_WEBHOOK_SECRET="not base64!")
    assert run.returncode != 0
    assert "READFACE_WEBHOOK_SECRET" in run.stderr, run.stderr
