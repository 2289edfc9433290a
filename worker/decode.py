"""Bytes to a BGR pixel array, refusing oversized or undecodable images before allocating pixels."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from shared.errors import InvalidImage
from shared.imageinfo import ImageInfo, read_image_info

# A big JPEG is decoded at 1/2, 1/4 or 1/8 scale by libjpeg's DCT scaling (several times faster
# than a full decode) as long as the shorter side keeps at least this many pixels: enough for the
# 300x300 detector and for 64x64 chips of all but the smallest faces.
REDUCED_DECODE_MIN_SIDE = 1200
_REDUCED_FLAGS = {
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}


@dataclass(frozen=True, slots=True)
class DecodedImage:
    """Pixels as 8-bit BGR (EXIF orientation applied), possibly at reduced scale.

    `width` and `height` are the full image's (oriented) size; `scale` maps pixel coordinates
    back to it (full = decoded * scale).
    """

    pixels: np.ndarray
    format: str
    width: int
    height: int
    scale: float


def reduction_for(info: ImageInfo) -> int:
    """The largest JPEG DCT reduction that keeps the shorter side at REDUCED_DECODE_MIN_SIDE."""
    if info.format != "jpeg":
        return 1
    shorter = min(info.width, info.height)
    return next((r for r in (8, 4, 2) if shorter / r >= REDUCED_DECODE_MIN_SIDE), 1)


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
    reduction = reduction_for(info)
    # IMREAD_COLOR (and its reduced variants) applies EXIF orientation, drops alpha, expands grey
    # and converts CMYK and 16-bit to 8-bit BGR, which is what every network here wants.
    flags = _REDUCED_FLAGS.get(reduction, cv2.IMREAD_COLOR)
    pixels = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags)
    if pixels is None or pixels.size == 0:
        raise InvalidImage(
            f"The {info.format.upper()} data could not be decoded (truncated or corrupt)."
        )
    height, width = pixels.shape[:2]
    if reduction > 1:
        # The header's size is before EXIF rotation; the decoded shape tells which way round.
        long_side, short_side = max(info.width, info.height), min(info.width, info.height)
        width, height = (long_side, short_side) if width >= height else (short_side, long_side)
    return DecodedImage(
        pixels=pixels, format=info.format, width=width, height=height, scale=width / pixels.shape[1]
    )
