"""DELETE's promise on disk: once the append-only file is rewritten (as `readface up` does on a
schedule), a deleted photo's bytes are in no file of the Redis data directory."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
import redis

from cli.up import free_port, redis_url, start_redis, stop
from shared.settings import Settings
from shared.store import Store
from tests.service import poll

pytestmark = pytest.mark.integration


def files_holding(folder: Path, needle: bytes) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_a_deleted_upload_leaves_the_disk_when_the_aof_is_rewritten(tmp_path: Path) -> None:
    port, password = free_port(), secrets.token_urlsafe(16)
    process = start_redis(port, tmp_path, password)
    try:
        url = redis_url(port, password)
        store = Store(Settings(redis_url=url))
        photo = b"\xff\xd8\xff" + secrets.token_bytes(4096)  # bytes found nowhere else
        analysis_id = "c" * 64
        store.claim(analysis_id, photo, "fp", None, "client")
        client = redis.Redis.from_url(url)
        poll(lambda: files_holding(tmp_path, photo[:64]), 5, "the upload to reach the AOF")
        assert store.delete(analysis_id)
        assert files_holding(tmp_path, photo[:64])  # still on disk after DELETE alone
        client.bgrewriteaof()
        poll(
            lambda: not files_holding(tmp_path, photo[:64]),
            10,
            "the rewritten AOF to drop the deleted upload",
        )
    finally:
        stop(process)
