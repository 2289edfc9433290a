"""`s3://BUCKET/PREFIX`: blobs as objects of any S3-compatible store (AWS S3, MinIO, Ceph RGW,
Swift's s3api), through boto3. The endpoint, region and credentials come the usual AWS way:
AWS_ENDPOINT_URL, AWS_REGION / AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY,
a profile, an instance or pod role. S3 writes an object whole, so no temporary name is needed."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO, cast

import boto3
import urllib3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from shared.blobs.base import BlobInfo, BlobStore, BlobUnavailable, Source

# Fail fast and let the caller decide: the API answers 503 at once, the worker retries the task
# with backoff (worker/tasks.py). Two attempts ride out a dropped connection.
CLIENT_CONFIG = Config(
    connect_timeout=2, read_timeout=20, retries={"mode": "standard", "max_attempts": 2}
)
# One thread per upload: the API and the worker already run one request or task per thread.
TRANSFER_CONFIG = TransferConfig(use_threads=False)
_MISSING = {"NoSuchKey", "404", "NotFound"}


def _missing(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in _MISSING


class S3BlobStore(BlobStore):
    """Blobs as objects `PREFIX + name` in one bucket."""

    def __init__(
        self, bucket: str, prefix: str, lifetimes: Mapping[str, float], client: Any = None
    ) -> None:
        super().__init__(lifetimes)
        self.bucket = bucket
        self.prefix = prefix
        self.client = client or boto3.client("s3", config=CLIENT_CONFIG)

    def put(self, name: str, source: Source) -> int:
        key = self.prefix + name
        try:
            if isinstance(source, bytes):
                self.client.put_object(Bucket=self.bucket, Key=key, Body=source)
                return len(source)
            start = source.tell()
            self.client.upload_fileobj(source, self.bucket, key, Config=TRANSFER_CONFIG)
            return source.tell() - start
        except (BotoCoreError, ClientError) as error:
            raise BlobUnavailable(f"Writing blob {name} failed: {error}") from error

    def stat(self, name: str) -> BlobInfo | None:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.prefix + name)
        except ClientError as error:
            if _missing(error):
                return None
            raise BlobUnavailable(f"Reading blob {name} failed: {error}") from error
        except BotoCoreError as error:
            raise BlobUnavailable(f"Reading blob {name} failed: {error}") from error
        return BlobInfo(name, head["ContentLength"], head["LastModified"].timestamp())

    def stream(self, name: str) -> tuple[BinaryIO, float] | None:
        try:
            found = self.client.get_object(Bucket=self.bucket, Key=self.prefix + name)
        except ClientError as error:
            if _missing(error):
                return None
            raise BlobUnavailable(f"Reading blob {name} failed: {error}") from error
        except BotoCoreError as error:
            raise BlobUnavailable(f"Reading blob {name} failed: {error}") from error
        return cast(BinaryIO, _Body(name, found["Body"])), found["LastModified"].timestamp()

    def delete(self, name: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.prefix + name)
        except (BotoCoreError, ClientError) as error:
            raise BlobUnavailable(f"Deleting blob {name} failed: {error}") from error

    def listing(self, prefix: str) -> Iterator[BlobInfo]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix + prefix
        )
        try:
            for page in pages:
                for found in page.get("Contents", []):
                    yield BlobInfo(
                        found["Key"].removeprefix(self.prefix),
                        found["Size"],
                        found["LastModified"].timestamp(),
                    )
        except (BotoCoreError, ClientError) as error:
            raise BlobUnavailable(f"Listing blobs under {prefix} failed: {error}") from error


class _Body:
    """An object's body as a binary stream whose read errors are BlobUnavailable."""

    def __init__(self, name: str, body: Any) -> None:
        self._name = name
        self._body = body

    def read(self, size: int = -1) -> bytes:
        try:
            return cast(bytes, self._body.read(None if size < 0 else size))
        except (BotoCoreError, OSError, urllib3.exceptions.HTTPError) as error:
            raise BlobUnavailable(f"Reading blob {self._name} failed: {error}") from error

    def close(self) -> None:
        self._body.close()

    def __enter__(self) -> _Body:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
