"""`readface up` run as a user runs it, for the tests of the command: started in a folder of its
own, waited for, and every process it started killed however the test ends."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cli.processes import free_port
from harness.service import poll


def processes_with_marker(marker: str) -> list[int]:
    """Pids of live processes whose environment carries the marker (all that `up` started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in environ and state != "Z":
            found.append(int(entry.name))
    return found


def up_processes(marker: str, folder: Path) -> list[int]:
    """Pids of live processes that `readface up`, started in `folder` with the marker, runs:
    those whose environment carries the marker, and those working in a folder under `folder`
    (its redis-server writes its title over its environment, and works in its data directory)."""
    found = set(processes_with_marker(marker))
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = Path(os.readlink(entry / "cwd"))
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if cwd.is_relative_to(folder.resolve()) and state != "Z":
            found.add(int(entry.name))
    return sorted(found)


READFACE = str(Path(sys.executable).with_name("readface"))  # the console script users run


def start_up(folder: Path, marker: str, **settings: str) -> tuple[subprocess.Popen[bytes], Path]:
    """`readface up` started in a folder outside the checkout, as a user would, with no
    READFACE_MODEL_DIR: the model files must be found all the same."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("READFACE_REDIS_URL", "READFACE_MODEL_DIR")
    }
    env.update({"READFACE_DATA_DIR": str(folder / "data"), **settings})
    name, value = marker.split("=")
    env[name] = value
    log = folder / "up.log"  # a file, not a pipe: nobody would drain a pipe while we poll
    with log.open("wb") as sink:
        up = subprocess.Popen(
            [READFACE, "up", "--port", str(free_port()), "--workers", "1"],
            cwd=folder,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return up, log


@contextmanager
def cleaned_up(up: subprocess.Popen[bytes], marker: str, folder: Path) -> Iterator[None]:
    """Every process of `readface up` (see up_processes) killed when the block ends."""
    try:
        yield
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
            up.wait()
        # its Redis runs in a session of its own, out of reach of the group's kill
        for pid in up_processes(marker, folder):
            os.kill(pid, signal.SIGKILL)


def serving_url(up: subprocess.Popen[bytes], log: Path) -> str:
    """The URL `readface up` says it serves on, once it says so (the whole stack is ready);
    AssertionError, with its output, if it exits first."""
    serving = poll(
        lambda: re.search(r"serving on (\S+)", log.read_text()) or up.poll() is not None,
        120,
        "readface up to say it is serving",
        every=0.2,
    )
    assert up.poll() is None, log.read_text()
    assert isinstance(serving, re.Match)
    return serving.group(1).rstrip("/")
