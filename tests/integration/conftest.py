"""One real stack for the suite: redis-server, a Celery worker (2 processes) and the API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.service import (
    Api,
    blob_dir_for,
    running_api,
    running_redis,
    running_worker,
    service_env,
    store_for,
    wait_ready,
)
from harness.swift_s3 import SwiftS3, running_swift
from shared.store import Store


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with running_redis() as server:
        yield server.url


@pytest.fixture(scope="session")
def env(redis_url: str) -> dict[str, str]:
    # Callbacks go to a receiver on loopback in these tests, and retries should be quick.
    return service_env(
        redis_url,
        READFACE_CALLBACK_ALLOW_PRIVATE="1",
        READFACE_CALLBACK_BACKOFF="0.2",
        READFACE_RATE_LIMIT_PER_MINUTE="100000",
    )


@pytest.fixture(scope="session")
def worker(env: dict[str, str]) -> Iterator[None]:
    with running_worker(env, concurrency=2):
        yield


@pytest.fixture(scope="session")
def api(env: dict[str, str], worker: None) -> Iterator[Api]:
    with running_api(env) as api:
        wait_ready(api)
        yield api


@pytest.fixture(scope="session")
def strict_api(redis_url: str, worker: None) -> Iterator[Api]:
    """Same Redis and workers, but API keys on, private callbacks off, a small upload limit and
    a low rate limit (its own key prefix keeps its rate counters apart)."""
    env = service_env(
        redis_url,
        READFACE_API_KEYS="k-one,k-two",
        READFACE_MAX_UPLOAD_BYTES="200000",
        READFACE_RATE_LIMIT_PER_MINUTE="100000",
    )
    with running_api(env) as api:
        yield api


@pytest.fixture()
def store(redis_url: str) -> Store:
    return store_for(redis_url)


@pytest.fixture()
def blob_dir(redis_url: str) -> Path:
    """Where the suite's services keep their blobs (file://)."""
    return blob_dir_for(redis_url)


@pytest.fixture(scope="session")
def swift(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwiftS3]:
    """A real S3-compatible server (OpenStack Swift with s3api) for the suite."""
    with running_swift(tmp_path_factory.mktemp("swift")) as server:
        yield server
