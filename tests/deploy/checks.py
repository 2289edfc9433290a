"""Checks the deployment tests share: shell that parses, a Redis URL naming the sentinels."""

from __future__ import annotations

import subprocess

from shared.redis_connection import parse_sentinel_url


def assert_shell_parses(script: str) -> None:
    run = subprocess.run(["sh", "-n", "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def assert_names_the_sentinels(url: str, hosts: set[str], master: str) -> None:
    target = parse_sentinel_url(url)
    assert target is not None, url
    assert {host for host, _ in target.sentinels} == hosts
    assert {port for _, port in target.sentinels} == {26379}
    assert target.master == master
