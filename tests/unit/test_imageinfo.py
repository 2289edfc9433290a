"""Header parsing without decoding: formats, sizes, and the refusals the API relies on."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest

from harness.bombs import empty_app_segments_jpeg
from harness.images import encode, heic, jpeg_claiming, png_header_only, scan_bomb
from shared.errors import InvalidImage, UnsupportedMediaType
from shared.imageinfo import FORMAT_MAX_PIXELS, MEDIA_TYPES, read_image_info
from shared.jpeg_markers import MAX_SCANS, MAX_SEGMENTS

LIMIT = 50_000_000


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


def test_reads_size_of_heic_from_its_ispe_box() -> None:
    info = read_image_info(heic(np.zeros((150, 200, 3), dtype=np.uint8)), LIMIT)
    assert (info.format, info.width, info.height) == ("heif", 200, 150)


def test_heic_and_heif_media_types_are_accepted() -> None:
    assert {"image/heic", "image/heif"} <= set(MEDIA_TYPES.values())


def test_refuses_heif_box_overrunning_its_parent() -> None:
    ftyp = struct.pack(">I", 20) + b"ftypheic" + b"\0\0\0\0" + b"mif1"
    meta = struct.pack(">I", 4000) + b"meta" + b"\0" * 40
    with pytest.raises(InvalidImage, match="HEIF header"):
        read_image_info(ftyp + meta, LIMIT)


def test_avif_is_not_taken_for_heif() -> None:
    ftyp = struct.pack(">I", 24) + b"ftypavif" + b"\0\0\0\0" + b"avifmif1"
    with pytest.raises(UnsupportedMediaType):
        read_image_info(ftyp + b"\0" * 64, LIMIT)


def test_png_over_its_format_cap_is_refused_under_the_global_cap() -> None:
    width = math.isqrt(FORMAT_MAX_PIXELS["png"]) + 1
    assert width * width < LIMIT
    with pytest.raises(InvalidImage, match="for PNG"):
        read_image_info(png_header_only(width, width), LIMIT)


def test_48_megapixel_jpeg_is_accepted() -> None:
    data = jpeg_claiming(encode(np.zeros((8, 8, 3), dtype=np.uint8), "JPEG"), 8064, 6048)
    assert read_image_info(data, LIMIT).pixels == 8064 * 6048


def test_refuses_jpeg_with_20000_scans_before_decoding() -> None:
    bomb = scan_bomb(20_000)
    assert len(bomb) < 1_000_000
    with pytest.raises(InvalidImage, match=f"more than {MAX_SCANS} scans"):
        read_image_info(bomb, LIMIT)


def test_jpeg_with_the_most_scans_allowed_is_accepted() -> None:
    assert read_image_info(scan_bomb(MAX_SCANS, side=4000), LIMIT).width == 4000


def progressive_header(width: int, height: int, subsampling: int) -> bytes:
    small = encode(np.zeros((16, 16, 3), dtype=np.uint8), "JPEG", progressive=True,
                   subsampling=subsampling)  # fmt: skip
    return jpeg_claiming(small, width, height)


def test_progressive_jpeg_whose_coefficients_pass_the_bound_is_refused() -> None:
    with pytest.raises(InvalidImage, match="MB of coefficients"):
        read_image_info(progressive_header(6000, 6000, subsampling=0), LIMIT)  # 4:4:4, 216 MB


def test_a_48_mp_progressive_phone_jpeg_is_accepted() -> None:
    assert read_image_info(progressive_header(8064, 6048, subsampling=2), LIMIT).width == 8064


def test_a_20_mib_run_of_fill_bytes_before_the_frame_is_passed_in_one_step() -> None:
    jpeg = encode(np.zeros((37, 53, 3), dtype=np.uint8), "JPEG")
    # Fill bytes may precede any marker (ITU T.81 B.1.1.2): here 20 MiB of them before the first.
    padded = jpeg[:2] + b"\xff" * (20 * 1024 * 1024) + jpeg[2:]
    info = read_image_info(padded, LIMIT)
    assert (info.width, info.height) == (53, 37)


def test_refuses_a_jpeg_of_five_million_empty_segments() -> None:
    with pytest.raises(InvalidImage, match=f"{MAX_SEGMENTS:,} marker segments"):
        read_image_info(empty_app_segments_jpeg(5_000_000), LIMIT)


def test_a_jpeg_with_the_most_segments_allowed_is_read() -> None:
    info = read_image_info(empty_app_segments_jpeg(MAX_SEGMENTS - 3), LIMIT)  # SOI, SOF, EOI
    assert (info.width, info.height) == (64, 64)


def test_refuses_jpeg_frame_without_components() -> None:
    # SOI, then an SOF0 of 64x64 with a component count of 0, then EOI.
    frame = struct.pack(">HBHHB", 8, 8, 64, 64, 0)
    with pytest.raises(InvalidImage):
        read_image_info(b"\xff\xd8\xff\xc0" + frame + b"\xff\xd9", LIMIT)
