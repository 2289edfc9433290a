"""Bytes to a BGR pixel array, refusing oversized or undecodable images before allocating pixels."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from shared.errors import InvalidImage
from shared.imageinfo import read_image_info


@dataclass(frozen=True, slots=True)
class DecodedImage:
    """Pixels as 8-bit BGR (EXIF orientation applied) and the format the bytes were in."""

    pixels: np.ndarray
    format: str

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


def decode_image(data: bytes, max_pixels: int) -> DecodedImage:
    """Decode JPEG/PNG/WebP/BMP bytes; InvalidImage (or UnsupportedMediaType) on bad input."""
    if not data:
        raise InvalidImage("The file is empty.")
    info = read_image_info(data, max_pixels)
    if info.format == "jpeg" and data.rfind(b"\xff\xd9") < data.rfind(b"\xff\xda"):
        # libjpeg pads a truncated scan with grey and calls it a success; an end-of-image
        # marker after the last start-of-scan is what tells a whole file from a cut one.
        raise InvalidImage(
            "The JPEG data is truncated (no end-of-image marker after the last scan)."
        )
    # IMREAD_COLOR applies EXIF orientation, drops alpha, expands grey and converts CMYK and
    # 16-bit to 8-bit BGR, which is what every network here wants.
    pixels = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if pixels is None or pixels.size == 0:
        raise InvalidImage(
            f"The {info.format.upper()} data could not be decoded (truncated or corrupt)."
        )
    return DecodedImage(pixels=pixels, format=info.format)
