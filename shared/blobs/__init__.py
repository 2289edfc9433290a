"""The blob store: where upload bytes and annotated images live, while Redis keeps only metadata.

One small interface (`base.BlobStore`: put from bytes or a stream, get or stream, delete, exists,
a listing, expiry by kind) and two backends chosen by READFACE_BLOB_URL: `file://DIR` (`files`)
and `s3://BUCKET/PREFIX` (`s3`). `names` says what each blob is called and how long it lives,
`analyses` keeps blobs and jobs in step, `sweep` deletes expired and orphaned blobs.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from shared.blobs.base import BlobInfo, BlobStore, BlobStoreFull, BlobUnavailable, Source
from shared.blobs.files import FileBlobStore
from shared.blobs.names import lifetimes
from shared.settings import Settings

__all__ = [
    "BlobInfo",
    "BlobStore",
    "BlobStoreFull",
    "BlobUnavailable",
    "Source",
    "check_blob_url",
    "open_blob_store",
]


def check_blob_url(url: str) -> None:
    """ValueError, saying what is expected, unless the URL names a store readface can use."""
    parts = urlsplit(url)
    if parts.scheme == "file" and parts.netloc in ("", "localhost") and parts.path.startswith("/"):
        return
    if parts.scheme == "s3" and parts.netloc:
        return
    raise ValueError(
        f"READFACE_BLOB_URL must be file:///ABSOLUTE/DIR or s3://BUCKET[/PREFIX], not {url!r}."
    )


def open_blob_store(settings: Settings) -> BlobStore:
    """The store READFACE_BLOB_URL names, with the lifetimes of the settings."""
    check_blob_url(settings.blob_url)
    parts = urlsplit(settings.blob_url)
    if parts.scheme == "file":
        return FileBlobStore(Path(unquote(parts.path)), lifetimes(settings))
    # boto3 takes a few hundred milliseconds to import: only a service on S3 pays for it.
    from shared.blobs.s3 import S3BlobStore

    prefix = unquote(parts.path).strip("/")
    return S3BlobStore(parts.netloc, f"{prefix}/" if prefix else "", lifetimes(settings))
