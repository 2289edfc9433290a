"""The blob store's one small interface, the errors every backend raises, and expiry on read."""

from __future__ import annotations

import io
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import BinaryIO

# What a blob is written from: the bytes, or a seekable binary stream (a spooled request body)
# read from where it stands to its end.
Source = bytes | BinaryIO


class BlobUnavailable(Exception):
    """The store could not be reached or did not do what was asked (a network error, a 5xx, an
    I/O error): transient, so the API answers 503 and the worker retries."""


class BlobStoreFull(BlobUnavailable):
    """Accepting more would pass the byte cap or the free-disk floor (READFACE_BLOB_MAX_BYTES,
    READFACE_BLOB_MIN_FREE_BYTES): the API answers 503 until the sweeper or expiry frees room."""


@dataclass(frozen=True, slots=True)
class BlobInfo:
    """A stored blob as a listing shows it: its name, size and when it was written (Unix s)."""

    name: str
    size: int
    written: float


class BlobStore(ABC):
    """Named blobs with a lifetime per kind: `lifetimes` maps a name prefix (the kind, such as
    "uploads/") to the seconds a blob under it lives, counted from when it was written, as S3's
    lifecycle rules count it. A blob past its lifetime is absent on read; the sweeper deletes it.
    A blob of a kind without a lifetime never expires."""

    def __init__(self, lifetimes: Mapping[str, float]) -> None:
        self.lifetimes = dict(lifetimes)

    @abstractmethod
    def put(self, name: str, source: Source) -> int:
        """Write the blob whole (a reader sees the old one or the new one, never a part of it);
        the bytes written."""

    @abstractmethod
    def stat(self, name: str) -> BlobInfo | None:
        """The blob's size and write time, expired or not; None if there is no such blob."""

    @abstractmethod
    def stream(self, name: str) -> tuple[BinaryIO, float] | None:
        """The blob opened for reading and when it was written, expired or not; None if absent."""

    @abstractmethod
    def delete(self, name: str) -> None:
        """Remove the blob; removing one that is not there is not an error."""

    @abstractmethod
    def listing(self, prefix: str) -> Iterator[BlobInfo]:
        """Every blob whose name starts with `prefix` (expired ones too)."""

    def free_bytes(self) -> int | None:
        """Room left where the blobs are written (a file system), None where it is not ours to
        measure (object storage)."""
        return None

    def expired(self, name: str, written: float, now: float | None = None) -> bool:
        lifetime = next((s for p, s in self.lifetimes.items() if name.startswith(p)), None)
        return lifetime is not None and written + lifetime <= (time.time() if now is None else now)

    def open(self, name: str) -> BinaryIO | None:
        """The blob as a stream (close it), None if absent or expired."""
        found = self.stream(name)
        if found is None:
            return None
        stream, written = found
        if self.expired(name, written):
            stream.close()
            return None
        return stream

    def get(self, name: str) -> bytes | None:
        """The blob's bytes, None if absent or expired."""
        stream = self.open(name)
        if stream is None:
            return None
        with stream:
            try:
                return stream.read()
            except OSError as error:  # the connection or the disk failed half-way
                raise BlobUnavailable(f"Reading blob {name} failed: {error}") from error

    def exists(self, name: str) -> bool:
        """Whether the blob is there and not expired."""
        info = self.stat(name)
        return info is not None and not self.expired(name, info.written)


def source_size(source: Source) -> int:
    """Bytes from the source's position to its end (a stream is left where it was)."""
    if isinstance(source, bytes):
        return len(source)
    start = source.tell()
    end = source.seek(0, io.SEEK_END)
    source.seek(start)
    return end - start
