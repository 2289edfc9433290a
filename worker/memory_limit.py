"""A memory ceiling no input can take an analysis process past (README "Images").

The limit is RLIMIT_DATA, set in each pool process once its models are loaded and warmed up. On
Linux (4.7 and later) it bounds every private writable mapping: the heap, anonymous mmap, what
malloc and each decoder allocate. RLIMIT_AS would bound address space instead, which a loaded
process holds four to five times over (1.27 GB for 0.27 GB resident, measured: thread stacks,
OpenVINO's reservations, glibc's 64 MB arena per thread), and which grows with every thread
without a byte used. The limit is what the process holds now plus what is left of the ceiling
once its resident set is counted, so its RSS can grow by that much at most. An allocation past it
fails: the decoder reports it (worker/decode.py makes that `invalid_image`) and the process goes on
serving. Celery's worker_max_memory_per_child (shared/celery_app.py) is the second net: a process
whose peak passed most of the ceiling is replaced after the task that took it there, so memory
the allocator kept from one big image never narrows the room of the next for long.
"""

from __future__ import annotations

import logging
import resource
from pathlib import Path

log = logging.getLogger("readface.worker")

MB = 1_000_000
# Less room than this for decoding and the room of an image at its format's cap is not there.
LOW_HEADROOM_MB = 200


def status_bytes(field: str, pid: int | str = "self") -> int:
    """A size field of a process's /proc status (VmRSS, VmData, VmHWM...) in bytes; 0 once the
    process is gone (a process that has exited has no such fields)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        name, _, value = line.partition(":")
        if name == field:
            return int(value.split()[0]) * 1024
    return 0


def data_room() -> int | None:
    """Bytes this process may still map under its data limit (RLIMIT_DATA less VmData, as the
    kernel counts them); None when it has no limit (the CLI, a solo or threads pool)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_DATA)
    if soft == resource.RLIM_INFINITY:
        return None
    return max(soft - status_bytes("VmData"), 0)


def limit_memory(ceiling_mb: int) -> int:
    """Set this process's data limit (soft and hard: it cannot be raised again) so that its
    resident set stays under `ceiling_mb`; returns the limit in bytes."""
    resident, data = status_bytes("VmRSS"), status_bytes("VmData")
    headroom = ceiling_mb * MB - resident
    limit = max(data + headroom, data)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    level = logging.WARNING if headroom < LOW_HEADROOM_MB * MB else logging.INFO
    log.log(
        level,
        "memory ceiling %d MB: %d MB resident with the models loaded, %d MB left to decode "
        "and analyse (data limit %d MB)",
        ceiling_mb,
        resident // MB,
        max(headroom, 0) // MB,
        limit // MB,
    )
    return limit
