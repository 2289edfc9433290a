"""The blob store's interface on both backends: a directory (file://) and a real S3-compatible
server (OpenStack Swift's s3api, harness/swift_s3.py): put from bytes or a stream, get, exists,
delete, listing, expiry on read, and the store down."""

from __future__ import annotations

import io
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.service import poll
from harness.swift_s3 import SwiftS3
from shared.blobs import BlobStore, BlobUnavailable, open_blob_store
from shared.blobs.files import FileBlobStore
from shared.settings import Settings

pytestmark = pytest.mark.integration
# Lifetimes by kind, as the service has them, with a short-lived kind for the expiry test.
LIFETIMES = {"short/": 1.0, "long/": 3600.0}


@pytest.fixture(params=["file", "s3"])
def blobs(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[BlobStore]:
    if request.param == "file":
        url = tmp_path.as_uri()
    else:
        swift: SwiftS3 = request.getfixturevalue("swift")
        for name, value in swift.env().items():
            monkeypatch.setenv(name, value)
        url = swift.blob_url(f"test-{secrets.token_hex(4)}")  # a prefix of this test's own
    store = open_blob_store(Settings(blob_url=url))
    store.lifetimes = LIFETIMES
    yield store


def test_bytes_put_are_the_bytes_got(blobs: BlobStore) -> None:
    data = secrets.token_bytes(100_000)
    assert blobs.put("long/a", data) == len(data)
    assert blobs.get("long/a") == data and blobs.exists("long/a")


def test_a_stream_is_written_from_where_it_stands_to_its_end(blobs: BlobStore) -> None:
    data = secrets.token_bytes(20 * 1024 * 1024)  # S3: a multipart upload (over 8 MB)
    stream = io.BytesIO(b"skipped" + data)
    stream.seek(7)
    assert blobs.put("long/big", stream) == len(data)
    assert blobs.get("long/big") == data


def test_a_put_replaces_the_blob_whole(blobs: BlobStore) -> None:
    blobs.put("long/a", b"first version")
    blobs.put("long/a", b"second")
    assert blobs.get("long/a") == b"second"


def test_a_deleted_blob_is_gone_and_deleting_again_is_no_error(blobs: BlobStore) -> None:
    blobs.put("long/a", b"x")
    blobs.delete("long/a")
    assert blobs.get("long/a") is None and not blobs.exists("long/a")
    blobs.delete("long/a")
    assert blobs.get("long/never") is None and blobs.stat("long/never") is None


def test_a_listing_gives_names_sizes_and_write_times(blobs: BlobStore) -> None:
    before = time.time()
    blobs.put("long/x/1", b"12")
    blobs.put("long/y", b"123")
    blobs.put("short/z", b"1")
    found = {b.name: b for b in blobs.listing("long/")}
    assert {n: b.size for n, b in found.items()} == {"long/x/1": 2, "long/y": 3}
    # S3 servers keep whole seconds; the write times are this test's
    assert all(before - 2 <= b.written <= time.time() + 2 for b in found.values())


def test_a_blob_past_its_lifetime_is_absent_on_read_until_swept(blobs: BlobStore) -> None:
    blobs.put("short/a", b"x")
    blobs.put("long/a", b"y")
    poll(lambda: blobs.get("short/a") is None, 10, "the short-lived blob to expire")
    assert not blobs.exists("short/a") and blobs.open("short/a") is None
    assert [b.name for b in blobs.listing("short/")] == ["short/a"]  # the sweeper deletes it
    assert blobs.get("long/a") == b"y"


def test_the_file_store_writes_whole_files_or_none(tmp_path: Path) -> None:
    blobs = FileBlobStore(tmp_path, LIFETIMES)

    class Failing(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            if self.tell() >= 1024 * 1024:
                raise OSError("the client went away")
            return super().read(size)

    blobs.put("long/a", b"old")
    with pytest.raises(BlobUnavailable):
        blobs.put("long/a", Failing(secrets.token_bytes(4 * 1024 * 1024)))
    assert blobs.get("long/a") == b"old"
    assert sorted(p.name for p in (tmp_path / "long").iterdir()) == ["a"]  # no temporary left
    assert (tmp_path / "long" / "a").stat().st_mode & 0o777 == 0o600
    assert blobs.free_bytes() > 0


def test_the_file_store_down_is_unavailable(tmp_path: Path) -> None:
    blobs = FileBlobStore(tmp_path, LIFETIMES)
    (tmp_path / "long").write_bytes(b"")  # a file where a directory should be
    for step in (
        lambda: blobs.put("long/a", b"x"),
        lambda: blobs.get("long/a"),
        lambda: blobs.delete("long/a"),
        lambda: list(blobs.listing("long/")),
    ):
        with pytest.raises(BlobUnavailable):
            step()


def test_the_s3_store_down_is_unavailable_and_back_when_it_is(
    swift: SwiftS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in swift.env().items():
        monkeypatch.setenv(name, value)
    blobs = open_blob_store(Settings(blob_url=swift.blob_url("down")))
    blobs.put("long/a", b"kept")
    swift.stop_proxy()
    try:
        for step in (
            lambda: blobs.put("long/b", b"x"),
            lambda: blobs.get("long/a"),
            lambda: blobs.exists("long/a"),
            lambda: blobs.delete("long/a"),
            lambda: list(blobs.listing("long/")),
        ):
            with pytest.raises(BlobUnavailable):
                step()
    finally:
        swift.start_proxy()
    assert blobs.get("long/a") == b"kept" and blobs.free_bytes() is None
    assert os.environ["AWS_ENDPOINT_URL"] == swift.endpoint  # configured the usual way
