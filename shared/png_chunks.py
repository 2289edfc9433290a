"""The chunks of a PNG, walked without inflating anything, and the copy of it the worker decodes.

Every chunk's declared length is checked against what is left of the file: OpenCV's reader
allocates what an IDAT chunk declares before it finds the data missing (4 GB for a 57-byte
file). Ancillary chunks are counted (text, colour profiles, EXIF; a real photo has a handful), and
the worker hands the decoder a copy with only the chunks that make the pixels (`DECODED`) and a
small eXIf (OpenCV applies its orientation): text and profiles are never inflated (1,000 zTXt
chunks of 7 MB each kept a decoder inflating for 38 s), and an APNG's animation chunks go, so
only its default image, the first frame, is decoded, as a still PNG.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from shared.errors import InvalidImage

SIGNATURE = b"\x89PNG\r\n\x1a\n"
# libpng writes 8 KiB IDAT chunks: a 20 MiB file has about 2,600 chunks.
MAX_CHUNKS = 65_536
MAX_ANCILLARY_CHUNKS = 256
MAX_EXIF_BYTES = 65_535  # what one JPEG APP1 segment can hold
DECODED = frozenset({b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"})
# An APNG's frames: chunks of their own number, never decoded, not counted as ancillary.
_ANIMATION = frozenset({b"acTL", b"fcTL", b"fdAT"})
_MAX_LENGTH = 2**31 - 1  # the PNG specification's bound on one chunk


@dataclass(frozen=True, slots=True)
class Chunk:
    kind: bytes
    start: int  # its length field
    end: int  # after its CRC


@dataclass(frozen=True, slots=True)
class PngLayout:
    width: int
    height: int
    chunks: tuple[Chunk, ...]  # up to IEND (or the end of the file, where a cut one stops)


def read_png_layout(data: bytes) -> PngLayout:
    """Size and chunks; ValueError when malformed (a chunk overrunning the file included),
    InvalidImage over MAX_CHUNKS or MAX_ANCILLARY_CHUNKS. A file that stops between chunks is
    not an error here (the decoder finds it cut)."""
    chunks: list[Chunk] = []
    ancillary, pos = 0, len(SIGNATURE)
    while pos < len(data):
        if pos + 8 > len(data):
            raise ValueError(f"the file ends inside the chunk header at byte {pos:,}")
        length, kind = struct.unpack_from(">I4s", data, pos)
        if not kind.isalpha():
            raise ValueError(f"bad chunk type {kind!r} at byte {pos:,}")
        left = len(data) - pos - 12
        if length > min(left, _MAX_LENGTH):
            raise ValueError(
                f"chunk {kind.decode()} at byte {pos:,} declares {length:,} bytes; "
                f"{max(left, 0):,} are left in the file"
            )
        chunks.append(Chunk(kind, pos, pos + 12 + length))
        if len(chunks) > MAX_CHUNKS:
            raise InvalidImage(f"The PNG has more than {MAX_CHUNKS:,} chunks.")
        if kind not in DECODED and kind not in _ANIMATION:
            ancillary += 1
            if ancillary > MAX_ANCILLARY_CHUNKS:
                raise InvalidImage(
                    f"The PNG has more than {MAX_ANCILLARY_CHUNKS} metadata chunks "
                    "(text, profiles, EXIF); a photo has a few."
                )
        pos += 12 + length
        if kind == b"IEND":
            break
    if not chunks or chunks[0].kind != b"IHDR" or chunks[0].end - chunks[0].start != 25:
        raise ValueError("no IHDR chunk first")
    width, height = struct.unpack_from(">II", data, len(SIGNATURE) + 8)
    return PngLayout(width, height, tuple(chunks))


def decodable_png(data: bytes, layout: PngLayout) -> bytes:
    """The PNG with only the DECODED chunks and its first eXIf if small: the bytes themselves
    when that is all they hold."""
    exif = next((c for c in layout.chunks if c.kind == b"eXIf"), None)
    if exif is not None and exif.end - exif.start - 12 > MAX_EXIF_BYTES:
        exif = None
    kept = [c for c in layout.chunks if c.kind in DECODED or c is exif]
    if len(kept) == len(layout.chunks) and layout.chunks[-1].end == len(data):
        return data
    return SIGNATURE + b"".join(data[c.start : c.end] for c in kept)
