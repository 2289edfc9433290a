"""How much room under the data limit does libheif need to decode a HEIF? About 7 min.

For each kind of HEIF (8-bit photo, 8-bit grid, more than 8 bits a sample, alpha, both), the
least room above what a process has mapped (RLIMIT_DATA less VmData, in MB) in which libheif
still decodes it as worker.decode does, found by bisection in fresh processes, against the room
that worker.decode.heif_room_needed asks for before letting libheif start; and how many of the
bisection's processes libheif ended instead of failing (worker.decode.check_heif_room says how).
The estimate must stay above every measured need.

    python -m bench.speed.heif_room
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pillow_heif

from bench.common import save, table
from harness import bombs
from worker.decode import heif_room_needed

MB = 1_000_000
WIDTH, HEIGHT = 4032, 3024  # a 12 MP phone photo
MAX_ROOM_MB = 400

# Child process: decode a small HEIF first (libheif's plugins and the main thread's first
# thread-local storage, as in a worker that has served before), then set the limit and decode
# the file as worker.decode does once its checks passed.
CHILD = """
import resource, sys
from worker.decode import heif_pixels, open_heif
from worker.memory_limit import status_bytes
heif_pixels(open_heif(open(sys.argv[2], "rb").read()))
limit = status_bytes("VmData") + int(sys.argv[3]) * 1_000_000
resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
heif_pixels(open_heif(open(sys.argv[1], "rb").read()))
"""


def _heif(width: int, height: int, bits: int, alpha: bool) -> bytes:
    channels = 4 if alpha else 3
    mode = ("RGBA" if alpha else "RGB") + (";16" if bits > 8 else "")
    dtype, top = (np.uint16, 65535) if bits > 8 else (np.uint8, 255)
    # noise: the longest bitstream for its size, what a decoder holds the most of
    pixels = np.random.default_rng(1).integers(0, top, (height, width, channels), dtype=dtype)
    buffer = io.BytesIO()
    pillow_heif.from_bytes(mode=mode, size=(width, height), data=pixels.tobytes()).save(
        buffer, quality=80
    )
    return buffer.getvalue()


def _decode(path: Path, warm: Path, room_mb: int) -> int:
    """The child's exit status: 0 decoded, 1 a Python error (MemoryError, libheif's error)."""
    return subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(warm), str(room_mb)],
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    ).returncode


def least_room_mb(path: Path, warm: Path) -> tuple[int, int]:
    """The least room (MB) under which the file decodes (MAX_ROOM_MB if none up to it does), and
    how many of the processes tried ended otherwise than by returning or raising."""
    low, high, ended = 1, MAX_ROOM_MB, 0
    while low < high:
        middle = (low + high) // 2
        status = _decode(path, warm, middle)
        ended += status not in (0, 1)
        low, high = (low, middle) if status == 0 else (middle + 1, high)
    return low, ended


def main() -> None:
    cases = {
        "8-bit photo": (lambda: _heif(WIDTH, HEIGHT, 8, False), 8, False),
        "8-bit grid, 8x8 tiles of 512": (lambda: bombs.heif_grid(8, 512, 4096), 8, False),
        "10-bit photo": (lambda: _heif(WIDTH, HEIGHT, 10, False), 10, False),
        "8-bit photo with alpha": (lambda: _heif(WIDTH, HEIGHT, 8, True), 8, True),
        "10-bit photo with alpha": (lambda: _heif(WIDTH, HEIGHT, 10, True), 10, True),
    }
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        warm = Path(tmp) / "warm.heif"
        warm.write_bytes(_heif(64, 64, 8, False))
        for name, (make, bits, alpha) in cases.items():
            path = Path(tmp) / "image.heif"
            path.write_bytes(make())
            width, height = pillow_heif.open_heif(path.read_bytes()).size
            pixels = width * height
            need, ended = least_room_mb(path, warm)
            estimate = heif_room_needed(pixels, bits, alpha) / MB
            rows.append(
                [name, f"{width}x{height}", need, need * MB / pixels, round(estimate),
                 "yes" if estimate >= need else "NO", ended]
            )  # fmt: skip
    headers = [
        "HEIF", "size", "room needed MB", "bytes/pixel", "estimate MB", "estimate covers",
        "processes ended",
    ]  # fmt: skip
    print(table(headers, rows, "Room under the data limit that decoding a HEIF needs"))
    save("heif_room", [dict(zip(headers, row, strict=True)) for row in rows])
    if any(row[5] == "NO" for row in rows):
        sys.exit("worker.decode.heif_room_needed asks for less than a decode needs")


if __name__ == "__main__":
    main()
