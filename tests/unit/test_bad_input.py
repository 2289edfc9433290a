"""Bad or unusual files give a clear error or a correct result, never a crash."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from harness.images import (
    astronaut_grid,
    astronaut_jpeg,
    astronaut_rgb,
    encode,
    heic,
    jpeg_claiming,
    png_header_only,
)
from shared.errors import InvalidImage, UnsupportedMediaType
from worker.decode import decode_image

LIMIT = 50_000_000


def test_empty_file_is_invalid(pipeline) -> None:
    with pytest.raises(InvalidImage, match="empty"):
        pipeline.analyze(b"")


def test_truncated_jpeg_is_invalid(pipeline) -> None:
    data = astronaut_jpeg()
    with pytest.raises(InvalidImage, match="truncated"):
        pipeline.analyze(data[: len(data) // 2])


def test_text_named_jpg_is_unsupported(pipeline) -> None:
    with pytest.raises(UnsupportedMediaType):
        pipeline.analyze(b"not an image at all\n" * 10)


def test_garbage_after_png_magic_is_invalid(pipeline) -> None:
    with pytest.raises(InvalidImage):
        pipeline.analyze(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)


def test_one_pixel_image_has_no_faces(pipeline) -> None:
    result = pipeline.analyze(encode(np.zeros((1, 1, 3), dtype=np.uint8), "PNG")).result
    assert result["faces"] == [] and result["image"]["width"] == 1


def test_pixel_cap_refuses_before_decoding(pipeline) -> None:
    with pytest.raises(InvalidImage, match="over the limit"):
        pipeline.analyze(png_header_only(20000, 20000))


def test_header_claiming_more_than_the_data_holds_is_invalid(pipeline) -> None:
    with pytest.raises(InvalidImage):
        pipeline.analyze(png_header_only(2000, 2000))


@pytest.mark.parametrize(
    ("mode", "fmt"),
    [
        ("CMYK", "JPEG"),
        ("RGBA", "PNG"),
        ("L", "JPEG"),
        ("L", "PNG"),
        ("RGB", "WEBP"),
        ("RGB", "BMP"),
        ("RGB", "HEIF"),
    ],
)
def test_other_colour_modes_and_formats_still_find_the_face(pipeline, mode: str, fmt: str) -> None:
    picture = Image.fromarray(astronaut_rgb()).convert(mode)
    if mode == "RGBA":
        picture.putalpha(200)
    if fmt == "HEIF":
        data = heic(np.asarray(picture))
    else:
        data = encode(np.asarray(picture), fmt) if mode != "CMYK" else _cmyk_jpeg(picture)
    result = pipeline.analyze(data).result
    assert len(result["faces"]) == 1
    assert result["image"]["format"] == fmt.lower()


def _cmyk_jpeg(picture: Image.Image) -> bytes:
    import io

    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def test_truncated_jpeg_with_an_end_marker_appended_is_invalid(pipeline) -> None:
    data = astronaut_jpeg()
    with pytest.raises(InvalidImage, match="truncated"):
        pipeline.analyze(data[: len(data) * 6 // 10] + b"\xff\xd9")


def test_jpeg_whose_frame_claims_more_pixels_than_its_data_holds_is_invalid(pipeline) -> None:
    with pytest.raises(InvalidImage, match="claims more pixels"):
        pipeline.analyze(jpeg_claiming(astronaut_jpeg(), 6000, 4000))


def test_progressive_jpeg_missing_its_last_scans_is_invalid() -> None:
    data = encode(astronaut_rgb(), "JPEG", progressive=True)
    last_scan = data.rfind(b"\xff\xda")
    with pytest.raises(InvalidImage, match="truncated"):
        decode_image(data[:last_scan] + b"\xff\xd9", LIMIT)


@pytest.mark.parametrize("quality", [5, 25, 50, 75, 95])
@pytest.mark.parametrize("progressive", [False, True])
@pytest.mark.parametrize("mode", ["RGB", "L", "CMYK"])
def test_whole_jpeg_encodings_decode(quality: int, progressive: bool, mode: str) -> None:
    buffer = io.BytesIO()
    picture = Image.fromarray(astronaut_grid(2, 1)).convert(mode)
    picture.save(buffer, format="JPEG", quality=quality, progressive=progressive)
    data = buffer.getvalue()
    assert decode_image(data, LIMIT).width == 1024


def test_48_megapixel_jpeg_decodes_reduced() -> None:
    rgb = np.repeat(np.repeat(astronaut_grid(2, 2), 8, axis=0), 8, axis=1)[:6048, :8064]
    image = decode_image(encode(np.ascontiguousarray(rgb), "JPEG", quality=85), LIMIT)
    assert (image.width, image.height, image.scale) == (8064, 6048, 4.0)


def test_heic_exif_orientation_is_applied() -> None:
    image = decode_image(heic(np.zeros((150, 200, 3), dtype=np.uint8), orientation=6), LIMIT)
    assert (image.width, image.height, image.format) == (150, 200, "heif")


@pytest.mark.parametrize("lossless", [False, True])
def test_webp_decodes(lossless: bool) -> None:
    data = encode(astronaut_rgb(), "WEBP", lossless=lossless)
    assert decode_image(data, LIMIT).pixels.shape == (512, 512, 3)


def test_16_bit_png_with_alpha_decodes_to_8_bit_bgr() -> None:
    rgba = np.dstack([astronaut_rgb(), np.full((512, 512), 200, dtype=np.uint8)])
    bgra16 = cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA).astype(np.uint16) * 257
    image = decode_image(cv2.imencode(".png", bgra16)[1].tobytes(), LIMIT)
    assert image.pixels.dtype == np.uint8 and image.pixels.shape == (512, 512, 3)
