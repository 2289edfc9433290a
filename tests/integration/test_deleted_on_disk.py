"""DELETE's promise on disk (file:// blob store): once it has answered 204, no file holds a byte of
the photo or anything of the analysis, and the photo never reached Redis's append-only file."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from harness.images import astronaut_rgb, encode
from harness.service import (
    Api,
    blob_dir_for,
    poll,
    running_api,
    running_redis,
    service_env,
)

pytestmark = pytest.mark.integration


def files_holding(folder: Path, needle: bytes) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and needle in p.read_bytes()]


def marked_photo() -> tuple[bytes, bytes]:
    """A JPEG carrying bytes found nowhere else (in a comment), and those bytes."""
    mark = secrets.token_hex(32).encode()
    return encode(astronaut_rgb()[:128, :128], "JPEG", comment=mark), mark


def test_a_deleted_queued_upload_leaves_no_byte_on_disk(tmp_path: Path) -> None:
    with running_redis(tmp_path / "redis") as server:
        blobs = blob_dir_for(server.url)
        with running_api(service_env(server.url)) as api:  # no worker: the upload waits
            photo, mark = marked_photo()
            analysis_id = api.submit(photo).json()["id"]
            [upload] = files_holding(blobs, mark)
            assert upload.read_bytes() == photo and upload.stat().st_mode & 0o077 == 0
            poll(lambda: (tmp_path / "redis").rglob("*.aof"), 5, "Redis's append-only file")
            assert api.delete(f"/v1/analyses/{analysis_id}").status_code == 204
            assert files_holding(blobs, mark) == []
            assert files_holding(tmp_path / "redis", mark) == []  # it never went to Redis


def test_a_deleted_result_leaves_no_blob(api: Api, blob_dir: Path) -> None:
    photo, mark = marked_photo()
    analysis_id = api.submit(photo).json()["id"]
    assert api.wait_done(analysis_id)["status"] == "succeeded"
    # the worker deletes the upload right after the job ended
    poll(
        lambda: [p.parent.name for p in blob_dir.rglob(f"*{analysis_id}*")] == ["annotated"],
        10,
        "the upload's blob to go and the annotated image's to stay",
    )
    assert api.delete(f"/v1/analyses/{analysis_id}").status_code == 204
    assert list(blob_dir.rglob(f"*{analysis_id}*")) == []
    assert files_holding(blob_dir, mark) == []
