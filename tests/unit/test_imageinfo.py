"""Header parsing without decoding: formats, sizes, and the refusals the API relies on."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from shared.errors import InvalidImage, UnsupportedMediaType
from shared.imageinfo import read_image_info
from tests.images import encode

LIMIT = 40_000_000


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP"])
def test_reads_size_of_every_supported_format(fmt: str) -> None:
    data = encode(np.zeros((37, 53, 3), dtype=np.uint8), fmt)
    info = read_image_info(data, LIMIT)
    assert (info.format, info.width, info.height) == (fmt.lower(), 53, 37)


def test_reads_size_of_lossless_webp() -> None:
    data = encode(np.zeros((21, 34, 3), dtype=np.uint8), "WEBP", lossless=True)
    assert (read_image_info(data, LIMIT).width, read_image_info(data, LIMIT).height) == (34, 21)


def test_reads_progressive_jpeg_size() -> None:
    data = encode(np.zeros((40, 60, 3), dtype=np.uint8), "JPEG", progressive=True)
    assert (read_image_info(data, LIMIT).width, read_image_info(data, LIMIT).height) == (60, 40)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims a size, followed by one tiny IDAT: a decompression-bomb header."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16))


def test_refuses_pixel_bomb_from_header() -> None:
    with pytest.raises(InvalidImage, match="over the limit"):
        read_image_info(png_header_only(20000, 20000), LIMIT)


def test_refuses_text_with_unsupported_media_type() -> None:
    with pytest.raises(UnsupportedMediaType):
        read_image_info(b"hello, I am a text file named photo.jpg\n", LIMIT)


def test_refuses_magic_bytes_without_header() -> None:
    with pytest.raises(InvalidImage):
        read_image_info(b"\xff\xd8\xff\xe0", LIMIT)


def test_refuses_zero_sized_header() -> None:
    with pytest.raises(InvalidImage, match="empty size"):
        read_image_info(png_header_only(0, 10), LIMIT)
