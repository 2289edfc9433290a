"""The chunks of a WebP (RIFF), read without decoding, and the still image the worker decodes.

Every chunk's size is checked against its container. An animated WebP is decoded as its first
frame alone, rewritten as a still WebP: OpenCV's reader composes every frame on a canvas and a
copy of it (4690x4690 with 2 frames: 211 MB more than the same still).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

MAX_CHUNKS = 65_536
_ANIMATED = 0x02  # VP8X flags
_ALPHA = 0x10


@dataclass(frozen=True, slots=True)
class WebpLayout:
    width: int  # the canvas
    height: int
    first_frame: tuple[int, int] | None  # body of the first ANMF chunk, when animated


def read_webp_layout(data: bytes) -> WebpLayout:
    """Canvas size and, for an animation, where its first frame is; ValueError when malformed
    (a chunk overrunning the file, a first frame outside the canvas)."""
    chunks = _chunks(data, 12, min(len(data), 8 + int.from_bytes(data[4:8], "little")))
    kind, start, end = chunks[0]
    if kind == b"VP8 ":
        if data[start + 3 : start + 6] != b"\x9d\x01\x2a":
            raise ValueError("bad VP8 start code")
        width, height = struct.unpack("<HH", data[start + 6 : start + 10])
        return WebpLayout(width & 0x3FFF, height & 0x3FFF, None)
    if kind == b"VP8L":
        if data[start] != 0x2F:
            raise ValueError("bad VP8L signature")
        bits = int.from_bytes(data[start + 1 : start + 5], "little")
        return WebpLayout((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, None)
    if kind != b"VP8X" or end - start < 10:
        raise ValueError(f"unknown WebP chunk {kind!r}")
    width = int.from_bytes(data[start + 4 : start + 7], "little") + 1
    height = int.from_bytes(data[start + 7 : start + 10], "little") + 1
    if not data[start] & _ANIMATED:
        return WebpLayout(width, height, None)
    frame = next(((s, e) for k, s, e in chunks if k == b"ANMF"), None)
    if frame is None:
        raise ValueError("an animation without frames")
    x, y, frame_width, frame_height = _frame_rectangle(data, *frame)
    if x + frame_width > width or y + frame_height > height:
        raise ValueError("the first frame lies outside the canvas")
    return WebpLayout(width, height, frame)


def first_frame_still(data: bytes, layout: WebpLayout) -> bytes:
    """A still WebP of the first frame of an animation; the bytes themselves otherwise."""
    if layout.first_frame is None:
        return data
    start, end = layout.first_frame
    _, _, width, height = _frame_rectangle(data, start, end)
    parts = {kind: data[s - 8 : e + (e - s) % 2] for kind, s, e in _chunks(data, start + 16, end)}
    image = parts.get(b"VP8 ") or parts.get(b"VP8L")
    if image is None:
        raise ValueError("the first frame has no image data")
    body = b"WEBP" + image
    if b"ALPH" in parts and b"VP8 " in parts:
        size = (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
        header = b"VP8X" + struct.pack("<I", 10) + bytes([_ALPHA, 0, 0, 0]) + size
        body = b"WEBP" + header + parts[b"ALPH"] + image
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _chunks(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """Type, first byte and end of the body of each chunk between start and end."""
    chunks, pos = [], start
    while pos + 8 <= end:
        kind, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        if pos + 8 + size > end:
            raise ValueError(f"chunk {kind!r} at byte {pos:,} overruns the file")
        chunks.append((kind, pos + 8, pos + 8 + size))
        if len(chunks) > MAX_CHUNKS:
            raise ValueError(f"more than {MAX_CHUNKS:,} chunks")
        pos += 8 + size + size % 2
    if not chunks:
        raise ValueError("no chunks")
    return chunks


def _frame_rectangle(data: bytes, start: int, end: int) -> tuple[int, int, int, int]:
    if end - start < 16:
        raise ValueError("short ANMF chunk")
    x, y, width, height = (
        int.from_bytes(data[start + i : start + i + 3], "little") for i in (0, 3, 6, 9)
    )
    return 2 * x, 2 * y, width + 1, height + 1
