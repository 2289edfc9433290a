"""What each format's header says decoding will cost, checked before any pixel is decoded
(issue 26): the hostile files of harness/bombs.py at small sizes, and the real files beside them."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from PIL import Image

from harness import bombs
from harness.images import astronaut_rgb, encode
from shared.errors import InvalidImage
from shared.imageinfo import LOSSLESS_JPEG_MAX_PIXELS, read_image_info
from shared.png_chunks import MAX_ANCILLARY_CHUNKS, decodable_png, read_png_layout
from shared.webp_chunks import first_frame_still, read_webp_layout
from worker.decode import decode_image

LIMIT = 50_000_000


def test_png_chunk_declaring_more_than_the_file_holds_is_refused_from_the_header() -> None:
    bomb = bombs.png_length_lie()
    assert len(bomb) == 57
    with pytest.raises(InvalidImage, match="declares 4,294,967,280 bytes; 12 are left"):
        read_image_info(bomb, LIMIT)


def test_png_cut_inside_a_chunk_is_refused_from_the_header() -> None:
    data = encode(astronaut_rgb(), "PNG")
    with pytest.raises(InvalidImage, match="declares"):
        read_image_info(data[: len(data) // 2], LIMIT)


def test_png_with_more_metadata_chunks_than_the_bound_is_refused() -> None:
    bomb = bombs.png_text_bomb(chunks=MAX_ANCILLARY_CHUNKS + 1, inflated=1000)
    with pytest.raises(InvalidImage, match="metadata chunks"):
        read_image_info(bomb, LIMIT)


def test_png_text_is_never_handed_to_the_decoder() -> None:
    picture = encode(astronaut_rgb()[:64, :64], "PNG")
    bomb = bombs.png_text_bomb(chunks=MAX_ANCILLARY_CHUNKS, inflated=7_000_000, picture=picture)
    decoded = decodable_png(bomb, read_png_layout(bomb))
    assert b"zTXt" not in decoded and len(decoded) == len(picture)
    assert np.array_equal(decode_image(bomb, LIMIT).pixels, decode_image(picture, LIMIT).pixels)


def test_png_keeps_its_exif_orientation_when_its_text_is_dropped() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    data = encode(np.zeros((100, 200, 3), np.uint8), "PNG", exif=exif.tobytes())
    data = bombs.png_text_bomb(chunks=3, inflated=100, picture=data)
    assert b"eXIf" in decodable_png(data, read_png_layout(data))
    image = decode_image(data, LIMIT)
    assert (image.width, image.height) == (100, 200)


def test_apng_is_decoded_as_its_default_image_alone() -> None:
    data = bombs.apng(side=64, frames=3)
    still = decodable_png(data, read_png_layout(data))
    assert not any(kind in still for kind in (b"acTL", b"fcTL", b"fdAT"))
    assert decode_image(data, LIMIT).pixels.shape == (64, 64, 3)


@pytest.mark.parametrize("lossless", [False, True])
def test_animated_webp_is_decoded_as_its_first_frame(lossless: bool) -> None:
    frames = [
        Image.new("RGBA", (48, 32), colour) for colour in ((255, 0, 0, 255), (0, 0, 255, 128))
    ]
    buffer = io.BytesIO()
    frames[0].save(buffer, "WEBP", save_all=True, append_images=frames[1:], lossless=lossless)
    data = buffer.getvalue()
    still = first_frame_still(data, read_webp_layout(data))
    assert b"ANMF" not in still
    pixels = decode_image(data, LIMIT).pixels
    assert pixels.shape == (32, 48, 3)
    assert np.abs(pixels.astype(int) - (0, 0, 255)).max() <= 8  # red, in BGR


def test_animated_webp_whose_first_frame_leaves_its_canvas_is_refused() -> None:
    data = bytearray(bombs.animated_webp(side=64))
    data[24:30] = (31).to_bytes(3, "little") * 2  # the canvas: 32x32
    with pytest.raises(InvalidImage, match="outside the canvas"):
        read_image_info(bytes(data), LIMIT)


def test_webp_chunk_overrunning_the_file_is_refused_from_the_header() -> None:
    data = encode(astronaut_rgb(), "WEBP")
    with pytest.raises(InvalidImage, match="overruns"):
        read_image_info(data[: len(data) // 2], LIMIT)


def test_heif_grid_whose_output_is_not_its_ispe_is_refused() -> None:
    with pytest.raises(InvalidImage, match="output 256x256 is not its ispe 100x100"):
        read_image_info(bombs.heif_grid(tiles=4, tile=64, ispe=100), LIMIT)


def test_heif_grid_with_more_tiles_than_its_output_needs_is_refused() -> None:
    with pytest.raises(InvalidImage, match="4x4 tiles of 64x64 do not fit an output of 100x100"):
        read_image_info(bombs.heif_grid(tiles=4, tile=64, ispe=100, output=100), LIMIT)


def test_heif_grid_counts_what_its_tiles_cover_against_the_cap() -> None:
    grid = bombs.heif_grid(tiles=2, tile=64, ispe=100, output=100)
    info = read_image_info(grid, LIMIT)
    assert (info.width, info.height) == (128, 128)
    assert decode_image(grid, LIMIT).pixels.shape == (100, 100, 3)
    with pytest.raises(InvalidImage, match="over the limit"):
        read_image_info(grid, 128 * 128 - 1)


def test_heif_overlay_is_refused() -> None:
    overlay = bombs.heif_grid(tiles=2, tile=64, ispe=100, output=100).replace(b"grid\0", b"iovl\0")
    with pytest.raises(InvalidImage, match="type b'iovl' is not supported"):
        read_image_info(overlay, LIMIT)


@pytest.mark.parametrize(
    ("marker", "held"),
    [
        (0xC0, ""),
        (0xC1, ""),
        (0xC2, "progressive"),
        (0xC9, "arithmetic-coded"),
        (0xCA, "arithmetic-coded progressive"),
    ],
)
def test_coefficient_budget_covers_every_frame_libjpeg_holds_whole(marker: int, held: str) -> None:
    data = bombs.jpeg_with_frame(marker, 6000, 6000)  # 4:4:4: 216 MB of coefficients
    if not held:
        assert read_image_info(data, LIMIT).width == 6000
        return
    with pytest.raises(InvalidImage, match=f"JPEG \\({held}\\) is 6000x6000: .* 216 MB"):
        read_image_info(data, LIMIT)


def test_arithmetic_progressive_cmyk_jpeg_of_the_issue_is_refused() -> None:
    with pytest.raises(InvalidImage, match=r"arithmetic-coded progressive.*384 MB"):
        read_image_info(bombs.arithmetic_progressive_cmyk(), LIMIT)


def test_baseline_jpeg_with_a_scan_per_component_is_held_whole() -> None:
    with pytest.raises(InvalidImage, match=r"components in separate scans.*390 MB"):
        read_image_info(bombs.separate_scans_jpeg(8064, 6048), LIMIT)
    assert decode_image(bombs.separate_scans_jpeg(256, 128), LIMIT).pixels.shape == (128, 256, 3)


@pytest.mark.parametrize("marker", [0xC5, 0xC6, 0xC7, 0xCD, 0xCE, 0xCF])
def test_hierarchical_jpeg_is_refused(marker: int) -> None:
    with pytest.raises(InvalidImage, match="hierarchical"):
        read_image_info(bombs.jpeg_with_frame(marker, 64, 64), LIMIT)


def test_lossless_jpeg_has_the_full_size_cap_and_is_decoded_at_full_size() -> None:
    side = math.isqrt(LOSSLESS_JPEG_MAX_PIXELS) + 1
    with pytest.raises(InvalidImage, match="for lossless JPEG"):
        read_image_info(bombs.jpeg_with_frame(0xC3, side, side), LIMIT)
    image = decode_image(bombs.lossless_jpeg(2500, 2500), LIMIT)
    assert image.pixels.shape == (2500, 2500, 3) and image.scale == 1.0
