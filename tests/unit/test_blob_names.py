"""Blob names (shared/blobs/names.py), READFACE_BLOB_URL and the file store's path safety."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.blobs import check_blob_url, open_blob_store
from shared.blobs.files import FileBlobStore
from shared.blobs.names import (
    ANNOTATED,
    UPLOADS,
    BlobOwner,
    annotated_name,
    new_token,
    owner_of,
    upload_name,
)
from shared.settings import Settings

ID = "ab" * 32


@pytest.mark.parametrize("tenant", ["", "alice", "key-0123456789ab", "..", "a.b-c_d"])
def test_a_name_says_whose_blob_it_is(tenant: str) -> None:
    token = new_token()
    assert owner_of(upload_name(tenant, ID, token)) == BlobOwner(UPLOADS, tenant, ID, token)
    assert owner_of(annotated_name(tenant, ID, token)) == BlobOwner(ANNOTATED, tenant, ID, token)


def test_tenants_never_share_a_name() -> None:
    token = new_token()
    names = {upload_name(t, ID, token) for t in ("", "alice", "bob")}
    assert len(names) == 3


# A fixed token: parameters must be the same in every collecting process (pytest-xdist).
TOKEN = "0123456789abcdef"


@pytest.mark.parametrize(
    "name",
    [
        f"uploads/.tmp-{TOKEN}",
        f"uploads/{ID}",
        f"annotated/{ID}.{TOKEN}",
        f"uploads/{ID}.{TOKEN}.jpg",
        f"results/{ID}.{TOKEN}",
    ],
)
def test_names_readface_does_not_write_have_no_owner(name: str) -> None:
    assert owner_of(name) is None


def test_a_tenant_named_dot_dot_stays_inside_the_blob_directory(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path, {})
    path = store.path(upload_name("..", ID, new_token()))
    assert path.parent == tmp_path / "uploads"
    for escape in ("../x", "uploads/../../x", "/etc/passwd", "uploads//x", "uploads/."):
        with pytest.raises(ValueError):
            store.path(escape)


@pytest.mark.parametrize(
    "url", ["file:///var/lib/readface/blobs", "file://localhost/srv/b", "s3://bucket", "s3://b/p/q"]
)
def test_blob_urls_readface_can_use(url: str) -> None:
    check_blob_url(url)


@pytest.mark.parametrize(
    "url", ["", "/var/lib/blobs", "file://host/dir", "file://relative", "s3:///prefix", "gs://b/p"]
)
def test_other_blob_urls_are_refused_with_what_is_expected(url: str) -> None:
    with pytest.raises(ValueError, match="file:///ABSOLUTE/DIR or s3://BUCKET"):
        check_blob_url(url)


def test_the_default_store_is_the_data_directory_s_blobs(tmp_path: Path) -> None:
    store = open_blob_store(Settings(data_dir=tmp_path))
    assert isinstance(store, FileBlobStore) and store.root == tmp_path / "blobs"
    assert (tmp_path / "blobs").stat().st_mode & 0o777 == 0o700
