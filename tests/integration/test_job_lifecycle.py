"""What a re-upload reuses and what it re-runs; what a late worker may write; start-up checks."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.jobs import FailureCode
from shared.manifest import load_pack
from shared.store import Store
from tests.conftest import REPO
from tests.images import astronaut_jpeg
from tests.service import Api

pytestmark = pytest.mark.integration


def analysis_id_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def current_fingerprint() -> str:
    return load_pack("default").fingerprint


@pytest.mark.parametrize("code", [FailureCode.TIMEOUT, FailureCode.INTERNAL])
def test_transient_failure_is_requeued_on_resubmit(
    api: Api, store: Store, code: FailureCode
) -> None:
    data = astronaut_jpeg(quality=71 if code is FailureCode.TIMEOUT else 72)
    analysis_id = analysis_id_of(data)
    # A job that ran and failed transiently, written the way the worker writes it.
    store.claim(analysis_id, data, current_fingerprint(), None)
    assert store.mark_running(analysis_id)
    assert store.fail(analysis_id, code, "stand-in failure")
    response = api.submit(data)
    assert response.status_code == 202
    assert api.wait_done(analysis_id)["status"] == "succeeded"


def test_result_of_another_model_pack_is_rerun(api: Api, store: Store) -> None:
    data = astronaut_jpeg(quality=73)
    analysis_id = analysis_id_of(data)
    store.claim(analysis_id, data, "an-old-pack", None)
    assert store.mark_running(analysis_id)
    assert store.succeed(analysis_id, {"faces": []}, b"\xff\xd8\xff")
    response = api.submit(data)
    assert response.status_code == 202
    done = api.wait_done(analysis_id)
    assert done["result"]["model"]["version"] == current_fingerprint()
    assert len(done["result"]["faces"]) == 1


def test_worker_finishing_after_delete_writes_nothing(store: Store) -> None:
    analysis_id = "b" * 64
    store.claim(analysis_id, b"\xff\xd8\xff", current_fingerprint(), None)
    assert store.mark_running(analysis_id)
    assert store.delete(analysis_id)
    assert not store.succeed(analysis_id, {"faces": []}, b"\xff\xd8\xff")
    assert not store.fail(analysis_id, FailureCode.INTERNAL, "late")
    assert not store.mark_running(analysis_id)
    assert list(store.scan_keys(analysis_id)) == []


def test_worker_refuses_to_start_with_missing_model_files(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "READFACE_MODEL_DIR": str(tmp_path),
        # Never reached: the pack check comes before the broker connection.
        "READFACE_REDIS_URL": "redis://127.0.0.1:9/0",
        "PYTHONPATH": str(REPO),
    }
    run = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "worker.tasks", "worker", "-Q", "analyze"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode != 0
    for model_file in load_pack("default").files:
        assert model_file.name in run.stderr, run.stderr
