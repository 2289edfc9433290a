"""Image type by magic bytes and dimensions from the header, without decoding any pixels.

The API uses this to refuse non-images and decompression bombs before a worker ever sees them;
the worker uses it to refuse oversized images before it allocates their pixels.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

from shared.errors import InvalidImage, UnsupportedMediaType
from shared.heif_boxes import heif_size, is_heif
from shared.jpeg_markers import Frame, JpegLayout, read_jpeg_layout
from shared.png_chunks import read_png_layout
from shared.webp_chunks import read_webp_layout

# Media type per format name. HEIF is sent as image/heif; image/heic, the name iPhones use for
# HEVC-coded HEIF, is accepted as well ("heic" is never a sniffed format, only an accepted type).
MEDIA_TYPES = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "bmp": "image/bmp",
    "heif": "image/heif",
    "heic": "image/heic",
}

# Formats decoded at full size need a lower cap than the global one (a JPEG is decoded reduced by
# libjpeg's DCT scaling): at these a worker process peaks under 400 MB RSS while decoding and
# analysing (measured by `python -m bench.speed.decode_memory`).
FORMAT_MAX_PIXELS = {
    "png": 16_000_000,
    "bmp": 16_000_000,
    "webp": 22_000_000,
    "heif": 22_000_000,
}
# libjpeg holds a JPEG's DCT coefficients whole (2 bytes each, per component at its own sampling)
# whatever the DCT scaling, when the frame is progressive or arithmetic-coded or its components
# come in separate scans: this bounds them. A 48 MP phone photo (8064x6048, 4:2:0) needs 146.3 MB;
# 4:4:4 stops near 24 MP, CMYK near 18 MP.
MAX_HELD_COEFFICIENT_BYTES = 146_500_000
# A lossless JPEG is decoded at full size (libjpeg has no scaling for it): PNG's cap.
LOSSLESS_JPEG_MAX_PIXELS = FORMAT_MAX_PIXELS["png"]


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What the header says: format name (jpeg, png, webp, bmp, heif) and size in pixels."""

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
    if is_heif(data):
        return "heif"
    raise UnsupportedMediaType("The file is not a JPEG, PNG, WebP, BMP or HEIF image.")


def max_pixels_for(fmt: str, max_pixels: int) -> int:
    """The pixel cap of one format: the global cap, or its own when lower."""
    return min(max_pixels, FORMAT_MAX_PIXELS.get(fmt, max_pixels))


def read_image_info(data: bytes, max_pixels: int) -> ImageInfo:
    """Format and size from the header; InvalidImage if unreadable, empty or over the cap
    (max_pixels, or the format's lower cap), or if its structure says decoding would cost more
    than a worker may spend (see the format modules and check_jpeg_cost)."""
    fmt = sniff_format(data)
    try:
        if fmt == "jpeg":
            layout = read_jpeg_layout(data)
            width, height = layout.frame.width, layout.frame.height
        else:
            width, height = _READERS[fmt](data)
    except (struct.error, IndexError, ValueError) as error:
        raise InvalidImage(f"The {fmt.upper()} header could not be read ({error}).") from error
    if width <= 0 or height <= 0:
        raise InvalidImage(f"The {fmt.upper()} header gives an empty size {width}x{height}.")
    cap, kind = max_pixels_for(fmt, max_pixels), fmt.upper()
    if fmt == "jpeg" and layout.frame.lossless:
        cap, kind = min(max_pixels, LOSSLESS_JPEG_MAX_PIXELS), "lossless JPEG"
    if width * height > cap:
        raise InvalidImage(
            f"The image is {width}x{height} = {width * height:,} pixels, "
            f"over the limit of {cap:,}" + (f" for {kind}." if cap < max_pixels else ".")
        )
    if fmt == "jpeg":
        check_jpeg_cost(layout)
    return ImageInfo(fmt, width, height)


def check_jpeg_cost(layout: JpegLayout) -> None:
    """InvalidImage for a hierarchical JPEG (no decoder here reads one) and for a JPEG whose
    coefficients libjpeg would hold whole beyond MAX_HELD_COEFFICIENT_BYTES."""
    frame = layout.frame
    if frame.hierarchical:
        raise InvalidImage("The JPEG is hierarchical (differential), which is not supported.")
    held = _held_because(layout)
    needed = coefficient_bytes(frame)
    if held and needed > MAX_HELD_COEFFICIENT_BYTES:
        raise InvalidImage(
            f"The JPEG ({held}) is {frame.width}x{frame.height}: decoding it would hold "
            f"{needed / 1e6:,.0f} MB of coefficients, over the limit of "
            f"{MAX_HELD_COEFFICIENT_BYTES / 1e6:,.0f} MB (a baseline JPEG with its components "
            "in one scan has no such limit; 4:2:0 colour needs half of 4:4:4)."
        )


def _held_because(layout: JpegLayout) -> str:
    """Why libjpeg would hold every coefficient of the image ("" if it would not): progressive
    and arithmetic-coded frames, and a first scan without every component (libjpeg's multi-scan
    buffer). A lossless frame has no coefficients (and the full-size cap)."""
    frame = layout.frame
    if frame.lossless:
        return ""
    if frame.progressive or frame.arithmetic:
        return " ".join(
            name for name, held in (("arithmetic-coded", frame.arithmetic),
                                    ("progressive", frame.progressive)) if held
        )  # fmt: skip
    if layout.scans and len(layout.scans[0].component_ids) < len(frame.components):
        return "its components in separate scans"
    return ""


def coefficient_bytes(frame: Frame) -> int:
    """Bytes of DCT coefficients a decoder holds for the whole frame: 64 of 2 bytes per 8x8 block
    of each component, at the component's sampling."""
    h_max = max(c.h for c in frame.components)
    v_max = max(c.v for c in frame.components)
    blocks = sum(
        math.ceil(frame.width * c.h / h_max / 8) * math.ceil(frame.height * c.v / v_max / 8)
        for c in frame.components
    )
    return blocks * 128


def _png_size(data: bytes) -> tuple[int, int]:
    layout = read_png_layout(data)
    return layout.width, layout.height


def _webp_size(data: bytes) -> tuple[int, int]:
    layout = read_webp_layout(data)
    return layout.width, layout.height


def _bmp_size(data: bytes) -> tuple[int, int]:
    (header_size,) = struct.unpack("<I", data[14:18])
    if header_size == 12:
        width, height = struct.unpack("<HH", data[18:22])
        return width, height
    if header_size < 40:
        raise ValueError(f"unknown BMP header size {header_size}")
    width, height = struct.unpack("<ii", data[18:26])
    return width, abs(height)  # a negative height means top-down rows


_READERS = {
    "png": _png_size,
    "webp": _webp_size,
    "bmp": _bmp_size,
    "heif": heif_size,
}
