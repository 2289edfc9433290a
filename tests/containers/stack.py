"""The compose stack on the locally built images, driven with Debian's docker-compose (v1)."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from harness.paths import REPO

PROJECT = "readface-ct"
API_IMAGE = "readface-api:container-test"
WORKER_IMAGE = "readface-worker:container-test"
OVERRIDE = Path(__file__).with_name("compose.override.yml")
# One client sends everything here: the per-client rate limit would count the test, not users.
SETTINGS = {"READFACE_RATE_LIMIT_PER_MINUTE": "1000000"}


def docker(*args: str, check: bool = True) -> str:
    run = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if check and run.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {run.stderr}")
    return run.stdout.strip()


@dataclass
class Stack:
    """A running compose project; its ports are published on loopback only."""

    config: Path

    def compose(self, *args: str) -> str:
        run = subprocess.run(
            ["docker-compose", "-p", PROJECT, "-f", str(self.config), *args],
            capture_output=True,
            text=True,
            check=False,
            cwd=REPO,
        )
        if run.returncode != 0:
            raise AssertionError(f"docker-compose {' '.join(args)}: {run.stderr}")
        return run.stdout

    def containers(self, service: str = "") -> list[str]:
        return self.compose("ps", "-q", *([service] if service else [])).split()

    def url(self, service: str, port: int) -> str:
        host_port = docker("port", self.containers(service)[0], str(port)).splitlines()[0]
        return "http://" + host_port.replace("0.0.0.0", "127.0.0.1")

    def inspect(self, container: str) -> dict:
        return json.loads(docker("inspect", container))[0]

    def save_logs(self, directory: Path) -> None:
        """Every container's output, with Docker's timestamps, one file per container."""
        for container in self.compose("ps", "-q", "--all").split():
            name = self.inspect(container)["Name"].strip("/")
            run = subprocess.run(["docker", "logs", "-t", container], capture_output=True)
            (directory / f"{name}.log").write_bytes(run.stdout + run.stderr)

    def down(self) -> None:
        self.compose("down", "--volumes", "--remove-orphans", "--timeout", "5")


def write_config(directory: Path) -> Path:
    """docker-compose.yml with the override, ports moved to ephemeral loopback ports: compose v1
    merges port lists, and 8000 may be taken on a shared machine."""
    run = subprocess.run(
        ["docker-compose", "-f", "docker-compose.yml", "-f", str(OVERRIDE), "config"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env={**os.environ, **SETTINGS},
    )
    config = yaml.safe_load(run.stdout)
    config["services"]["api"]["ports"] = ["127.0.0.1::8000"]
    config["services"]["redis"]["ports"] = ["127.0.0.1::6379"]
    path = directory / "compose.yml"
    path.write_text(yaml.safe_dump(config))
    return path
