"""The container suite runs under `make container-test` only (a Docker engine, built images)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.service import poll
from tests.containers.stack import Stack, write_config

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if os.environ.get("READFACE_CONTAINER_TEST") == "1":
        return
    skip = pytest.mark.skip(reason="make container-test runs these (Docker engine, built images)")
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(skip)


def all_healthy(stack: Stack) -> bool:
    states = [stack.inspect(c)["State"] for c in stack.containers()]
    return all(s.get("Health", {}).get("Status") == "healthy" for s in states)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """redis, api, two worker containers and the callbacks worker, every healthcheck passing."""
    running = Stack(write_config(tmp_path_factory.mktemp("compose")))
    running.down()  # what an interrupted run left
    try:
        running.compose("up", "-d", "--no-build", "--scale", "worker=2")
        # the workers' first healthcheck comes one interval (30 s) after they start
        poll(lambda: all_healthy(running), 120, "every container healthy", every=1)
        yield running
    finally:
        logs = tmp_path_factory.mktemp("logs")
        running.save_logs(logs)
        print(f"\ncontainer logs: {logs}")
        running.down()
