"""A name server that never answers, and the API started behind it: glibc has no variable for
the name server, so the API gets its own mount namespace with /etc/resolv.conf bind-mounted
over (root and `unshare` needed). Used by the DNS-stall fault test and `bench.faults.abuse`."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO

from cli.processes import SCRIPTS, ends_with_parent

# A loopback address of its own, so port 53 is free on it whatever else the machine runs.
SILENT_DNS_ADDRESS = "127.0.0.153"


def can_fake_dns() -> bool:
    """Whether this process may make a mount namespace and bind port 53."""
    return os.geteuid() == 0 and shutil.which("unshare") is not None


class SilentDns:
    """A UDP socket on port 53 that reads queries and never answers; records the names asked."""

    def __init__(self, address: str = SILENT_DNS_ADDRESS) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((address, 53))
        self.names: set[str] = set()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                query, _ = self.sock.recvfrom(512)
                labels, at = [], 12  # the question's name follows the 12-byte header
                while query[at]:
                    labels.append(query[at + 1 : at + 1 + query[at]].decode())
                    at += 1 + query[at]
                self.names.add(".".join(labels))


@contextlib.contextmanager
def silent_dns(directory: Path) -> Iterator[tuple[SilentDns, Path]]:
    """The silent server and a resolv.conf in `directory` that names it (one 30 s try: longer
    than any time box the API puts on a lookup)."""
    dns = SilentDns()
    conf = directory / "resolv.conf"
    conf.write_text(f"nameserver {SILENT_DNS_ADDRESS}\noptions timeout:30 attempts:1\n")
    try:
        yield dns, conf
    finally:
        dns.sock.close()


def start_api_with_resolv_conf(
    resolv_conf: Path, env: Mapping[str, str], port: int, log: IO[bytes] | None = None
) -> subprocess.Popen[bytes]:
    """The API (the image's script) on 127.0.0.1:port in its own mount namespace whose
    /etc/resolv.conf is `resolv_conf`; everything else, Redis included, is shared."""
    in_namespace = 'mount --bind "$0" /etc/resolv.conf && exec bash "$1"'
    return subprocess.Popen(
        [
            "unshare",
            "--mount",
            "sh",
            "-c",
            in_namespace,
            resolv_conf,
            SCRIPTS / "api-entrypoint.sh",
        ],
        env={**env, "READFACE_BIND": f"127.0.0.1:{port}", "PYTHON": sys.executable},
        start_new_session=True,
        preexec_fn=ends_with_parent(),
        stdout=log,
        stderr=log,
    )
