"""Image type by magic bytes and dimensions from the header, without decoding any pixels.

The API uses this to refuse non-images and decompression bombs before a worker ever sees them;
the worker uses it to refuse oversized images before it allocates their pixels.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from shared.errors import InvalidImage, UnsupportedMediaType

MEDIA_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "bmp": "image/bmp"}


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What the header says: format name (jpeg, png, webp, bmp) and size in pixels."""

    format: str
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


def sniff_format(data: bytes) -> str:
    """The format named by the magic bytes, or UnsupportedMediaType."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:2] == b"BM":
        return "bmp"
    raise UnsupportedMediaType("The file is not a JPEG, PNG, WebP or BMP image.")


def read_image_info(data: bytes, max_pixels: int) -> ImageInfo:
    """Format and size from the header; InvalidImage if unreadable, empty or over max_pixels."""
    fmt = sniff_format(data)
    try:
        width, height = _READERS[fmt](data)
    except (struct.error, IndexError, ValueError) as error:
        raise InvalidImage(f"The {fmt.upper()} header could not be read ({error}).") from error
    if width <= 0 or height <= 0:
        raise InvalidImage(f"The {fmt.upper()} header gives an empty size {width}x{height}.")
    if width * height > max_pixels:
        raise InvalidImage(
            f"The image is {width}x{height} = {width * height:,} pixels, "
            f"over the limit of {max_pixels:,}."
        )
    return ImageInfo(fmt, width, height)


def _png_size(data: bytes) -> tuple[int, int]:
    if data[12:16] != b"IHDR":
        raise ValueError("no IHDR chunk")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# Start-of-frame markers carry the size; C4, C8 and CC are other segments with the same prefix.
_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_size(data: bytes) -> tuple[int, int]:
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ValueError(f"bad marker at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker == 0xD9:
            break
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if length < 2:
            raise ValueError("bad segment length")
        if marker in _SOF_MARKERS:
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return width, height
        pos += 2 + length
    raise ValueError("no start-of-frame segment")


def _webp_size(data: bytes) -> tuple[int, int]:
    chunk = data[12:16]
    if chunk == b"VP8 ":
        if data[23:26] != b"\x9d\x01\x2a":
            raise ValueError("bad VP8 start code")
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":
        if data[20] != 0x2F:
            raise ValueError("bad VP8L signature")
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    raise ValueError(f"unknown WebP chunk {chunk!r}")


def _bmp_size(data: bytes) -> tuple[int, int]:
    (header_size,) = struct.unpack("<I", data[14:18])
    if header_size == 12:
        width, height = struct.unpack("<HH", data[18:22])
        return width, height
    if header_size < 40:
        raise ValueError(f"unknown BMP header size {header_size}")
    width, height = struct.unpack("<ii", data[18:26])
    return width, abs(height)  # a negative height means top-down rows


_READERS = {"jpeg": _jpeg_size, "png": _png_size, "webp": _webp_size, "bmp": _bmp_size}
