"""What the service's processes are started with (cli/processes.py): each ends with the thread
that started it, however that one ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from cli.processes import ends_with_parent
from harness.paths import REPO
from harness.service import poll


def running(pid: int) -> bool:
    """Whether the process runs (a zombie waiting for its new parent to reap it does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


STARTER = """
import pathlib, subprocess, sys
from cli.processes import ends_with_parent
child = subprocess.Popen(["sleep", "600"], preexec_fn=ends_with_parent(), start_new_session=True)
pathlib.Path(sys.argv[1]).write_text(str(child.pid))
sys.stdin.read()
"""


def test_a_child_ends_when_the_process_that_started_it_is_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    starter = subprocess.Popen(
        [sys.executable, "-c", STARTER, str(pid_file)],
        stdin=subprocess.PIPE,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        poll(lambda: pid_file.exists() and pid_file.read_text(), 30, "the child to start")
        child = int(pid_file.read_text())
        assert running(child)
    finally:
        starter.kill()  # SIGKILL: no handler of its own stops the child
        starter.wait()
    poll(lambda: not running(child), 30, "the child to end")


def test_a_child_ends_with_the_thread_that_started_it() -> None:
    # PR_SET_PDEATHSIG follows the thread, not the process: why they are started from the main
    # thread, which outlives them.
    started: list[subprocess.Popen[bytes]] = []
    thread = threading.Thread(
        target=lambda: started.append(
            subprocess.Popen(["sleep", "600"], preexec_fn=ends_with_parent())
        )
    )
    thread.start()
    thread.join()
    [child] = started
    try:
        assert child.wait(timeout=30) == -signal.SIGTERM
    finally:
        child.kill()
