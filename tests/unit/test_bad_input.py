"""Bad or unusual files give a clear error or a correct result, never a crash."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from shared.errors import InvalidImage, UnsupportedMediaType
from tests.images import astronaut_jpeg, astronaut_rgb, encode
from tests.unit.test_imageinfo import png_header_only


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
    ],
)
def test_other_colour_modes_and_formats_still_find_the_face(pipeline, mode: str, fmt: str) -> None:
    picture = Image.fromarray(astronaut_rgb()).convert(mode)
    if mode == "RGBA":
        picture.putalpha(200)
    data = encode(np.asarray(picture), fmt) if mode != "CMYK" else _cmyk_jpeg(picture)
    result = pipeline.analyze(data).result
    assert len(result["faces"]) == 1
    assert result["image"]["format"] == fmt.lower()


def _cmyk_jpeg(picture: Image.Image) -> bytes:
    import io

    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()
