"""`file://DIR`: blobs as files under one directory (a local disk, a compose volume, a
ReadWriteMany volume). A blob is written to a temporary name beside it, fsynced, then renamed,
so a reader never sees part of one and a crash leaves at most a temporary file (swept)."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import BinaryIO

from shared.blobs.base import BlobInfo, BlobStore, BlobStoreFull, BlobUnavailable, Source

# Temporary files being written; the sweeper deletes the ones a crash left behind.
TEMPORARY_PREFIX = ".tmp-"
COPY_CHUNK_BYTES = 1024 * 1024
_FULL = (errno.ENOSPC, errno.EDQUOT)


class FileBlobStore(BlobStore):
    """Blobs under `root` (created 0700 if missing); a name's parts are directories."""

    def __init__(self, root: Path, lifetimes: Mapping[str, float]) -> None:
        super().__init__(lifetimes)
        self.root = root
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)

    def path(self, name: str) -> Path:
        """Where a blob lives; a name that could leave the root is refused."""
        parts = name.split("/")
        if any(p in ("", ".", "..") or "\0" in p for p in parts):
            raise ValueError(f"Not a blob name: {name!r}")
        return self.root.joinpath(*parts)

    def put(self, name: str, source: Source) -> int:
        path = self.path(name)
        temporary: Path | None = None
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # in the blob's own directory, so that the rename stays on one disk; mode 0600
            descriptor, temporary_name = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, dir=path.parent)
            temporary = Path(temporary_name)
            with os.fdopen(descriptor, "wb") as out:
                if isinstance(source, bytes):
                    out.write(source)
                else:
                    shutil.copyfileobj(source, out, COPY_CHUNK_BYTES)
                size = out.tell()
                out.flush()
                os.fsync(out.fileno())
            os.rename(temporary, path)
            temporary = None
            _fsync_directory(path.parent)  # the rename itself survives a power loss
        except OSError as error:
            kind = BlobStoreFull if error.errno in _FULL else BlobUnavailable
            raise kind(f"Writing blob {name} failed: {error}") from error
        finally:
            if temporary is not None:
                with contextlib.suppress(OSError):
                    temporary.unlink()
        return size

    def stat(self, name: str) -> BlobInfo | None:
        try:
            found = self.path(name).stat()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise BlobUnavailable(f"Reading blob {name} failed: {error}") from error
        return BlobInfo(name, found.st_size, found.st_mtime)

    def stream(self, name: str) -> tuple[BinaryIO, float] | None:
        try:
            stream = self.path(name).open("rb")
        except FileNotFoundError:
            return None
        except OSError as error:
            raise BlobUnavailable(f"Reading blob {name} failed: {error}") from error
        return stream, os.fstat(stream.fileno()).st_mtime

    def delete(self, name: str) -> None:
        try:
            self.path(name).unlink(missing_ok=True)
        except OSError as error:
            raise BlobUnavailable(f"Deleting blob {name} failed: {error}") from error

    def listing(self, prefix: str) -> Iterator[BlobInfo]:
        """Blobs under the directory `prefix` names (it ends with "/"), temporary files too."""
        try:
            yield from self._walk(self.path(prefix.rstrip("/")), prefix)
        except OSError as error:
            raise BlobUnavailable(f"Listing blobs under {prefix} failed: {error}") from error

    def _walk(self, directory: Path, prefix: str) -> Iterator[BlobInfo]:
        try:
            entries = list(os.scandir(directory))
        except FileNotFoundError:
            return
        for entry in entries:
            with contextlib.suppress(FileNotFoundError):  # deleted while we looked
                if entry.is_dir(follow_symlinks=False):
                    yield from self._walk(Path(entry.path), f"{prefix}{entry.name}/")
                else:
                    found = entry.stat(follow_symlinks=False)
                    yield BlobInfo(prefix + entry.name, found.st_size, found.st_mtime)

    def free_bytes(self) -> int:
        try:
            found = os.statvfs(self.root)
        except OSError as error:
            raise BlobUnavailable(f"The blob directory cannot be measured: {error}") from error
        return found.f_bavail * found.f_frsize


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
