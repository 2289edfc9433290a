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
def cleaned_up(up: subprocess.Popen[bytes], marker: str) -> Iterator[None]:
    try:
        yield
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
            up.wait()
        for pid in processes_with_marker(marker):  # only if the test failed half-way
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
