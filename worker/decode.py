"""Bytes to a BGR pixel array, refusing oversized, cut or undecodable images before allocating
pixels where the header allows it."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pillow_heif

from shared.errors import InvalidImage
from shared.imageinfo import ImageInfo, max_pixels_for, read_image_info
from shared.jpeg_markers import Frame, JpegLayout, read_jpeg_layout
from shared.png_chunks import decodable_png, read_png_layout
from shared.webp_chunks import first_frame_still, read_webp_layout
from worker.fault_injection import pause_at
from worker.memory_limit import data_room

# A big JPEG is decoded at 1/2, 1/4 or 1/8 scale by libjpeg's DCT scaling (several times faster
# than a full decode) as long as the shorter side keeps at least this many pixels: enough for the
# 300x300 detector and for 64x64 chips of all but the smallest faces.
REDUCED_DECODE_MIN_SIDE = 1200
_REDUCED_FLAGS = {
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}
# libjpeg fills the blocks after a premature end of scan data with zero coefficients: exact
# 128 grey once level-shifted (YCbCr, grey), and 65 for an Adobe CMYK file once OpenCV turned its
# inverted C=M=Y=K=128 into BGR.
_MISSING_BLOCK_VALUES = (128, 65)
_CUT_JPEG = "The JPEG data is truncated"
OVER_MEMORY = "Decoding the image needs more memory than an analysis process may use."
# Room libheif needs under the data limit to decode a HEIF into 8-bit BGR: 9 bytes a pixel, 3
# more past 8 bits a sample, 7 more with alpha, where `python -m bench.speed.heif_room` measured
# 8.2, 10.3, 14.3 and 16.3 (both) on single images and 4.5 on a grid; and 16 MB for libde265's
# thread (its 8 MiB stack unless glibc has one cached, its malloc arena).
HEIF_BYTES_PER_PIXEL, HEIF_DEEP_EXTRA, HEIF_ALPHA_EXTRA = 9, 3, 7
HEIF_THREAD_ROOM = 16_000_000
# libheif decodes a grid's tiles one after another in the calling thread (libde265 still starts
# one thread per tile decoder): the room a decode takes is then the image and one tile, and the
# tile threads would only race the other analysis processes for the cores.
pillow_heif.options.DECODE_THREADS = 0


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
    """Decode JPEG/PNG/WebP/BMP/HEIF bytes; InvalidImage (or UnsupportedMediaType) on bad input,
    and when decoding needs more memory than the process may take (worker/memory_limit.py)."""
    pause_at("decode")
    try:
        return _decode(data, max_pixels)
    except MemoryError as error:
        raise InvalidImage(OVER_MEMORY) from error
    except cv2.error as error:
        if error.code == cv2.Error.StsNoMem:
            raise InvalidImage(OVER_MEMORY) from error
        raise


def _decode(data: bytes, max_pixels: int) -> DecodedImage:
    if not data:
        raise InvalidImage("The file is empty.")
    info = read_image_info(data, max_pixels)
    if info.format == "heif":
        heif = _decode_heif(data, max_pixels_for("heif", max_pixels))
        return DecodedImage(heif, info.format, heif.shape[1], heif.shape[0], 1.0)
    reduction = reduction_for(info)
    if info.format == "jpeg":
        layout = read_jpeg_layout(data)
        check_jpeg_complete(layout)
        if layout.frame.lossless:
            reduction = 1  # libjpeg decodes a lossless frame at full size only
    elif info.format == "png":
        data = decodable_png(data, read_png_layout(data))
    elif info.format == "webp":
        try:
            data = first_frame_still(data, read_webp_layout(data))
        except ValueError as error:
            message = f"The WebP animation's first frame is unreadable ({error})."
            raise InvalidImage(message) from error
    # IMREAD_COLOR (and its reduced variants) applies EXIF orientation, drops alpha, expands grey
    # and converts CMYK and 16-bit to 8-bit BGR, which is what every network here wants.
    flags = _REDUCED_FLAGS.get(reduction, cv2.IMREAD_COLOR)
    pixels = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags)
    if pixels is None or pixels.size == 0:
        raise InvalidImage(
            f"The {info.format.upper()} data could not be decoded (truncated or corrupt, or "
            "needing more memory than an analysis process may use)."
        )
    if info.format == "jpeg" and has_missing_block_edge(pixels, reduction):
        raise InvalidImage(f"{_CUT_JPEG} (its last rows of blocks are missing).")
    height, width = pixels.shape[:2]
    if reduction > 1:
        # The header's size is before EXIF rotation; the decoded shape tells which way round.
        long_side, short_side = max(info.width, info.height), min(info.width, info.height)
        width, height = (long_side, short_side) if width >= height else (short_side, long_side)
    return DecodedImage(
        pixels=pixels, format=info.format, width=width, height=height, scale=width / pixels.shape[1]
    )


def check_jpeg_complete(layout: JpegLayout) -> None:
    """InvalidImage unless the scans hold a whole image: an end marker after them, every
    coefficient of every component brought to full precision, and at least the entropy-coded
    bytes the standard needs for the frame's size (Huffman codes are at least one bit long)."""
    if not layout.ends:
        raise InvalidImage(f"{_CUT_JPEG} (no end-of-image marker after the last scan).")
    frame = layout.frame
    if not frame.huffman:
        return  # arithmetic-coded, lossless and hierarchical JPEGs: the end marker is all we check
    blocks = {c.id: _blocks(frame, c.id) for c in frame.components}
    complete: dict[int, set[int]] = {c.id: set() for c in frame.components}
    for scan in layout.scans:
        if scan.ss == 0 and scan.ah == 0:
            bits = 1 if frame.progressive else 2  # a DC code (+ at least an end-of-block code)
        else:
            bits = 1 if scan.ss == 0 else 0  # a DC refinement is one raw bit; AC runs can be ~0
        needed = bits * sum(blocks.get(i, 0) for i in scan.component_ids) // 8
        if scan.data_bytes < needed:
            raise InvalidImage(
                f"The JPEG holds {scan.data_bytes:,} bytes of scan data where its "
                f"{frame.width}x{frame.height} size needs at least {needed:,} "
                "(cut short, or the header claims more pixels than the data holds)."
            )
        if scan.al == 0:
            for component in scan.component_ids:
                complete.get(component, set()).update(range(scan.ss, scan.se + 1))
    if any(len(coefficients) < 64 for coefficients in complete.values()):
        raise InvalidImage(f"{_CUT_JPEG} (scans that complete the image are missing).")


def _blocks(frame: Frame, component_id: int) -> int:
    """8x8 blocks of one component (without MCU padding, so a lower bound)."""
    component = next(c for c in frame.components if c.id == component_id)
    h_max = max(c.h for c in frame.components)
    v_max = max(c.v for c in frame.components)
    width = -(-frame.width * component.h // h_max)
    height = -(-frame.height * component.v // v_max)
    return -(-width // 8) * -(-height // 8)


def has_missing_block_edge(pixels: np.ndarray, reduction: int) -> bool:
    """Whether a whole edge is exact mid-grey one block deep: what libjpeg decodes where a file
    cut short (and given an end marker back) has no data, from the cut to the last row of blocks,
    which lands on one of the four edges whatever the EXIF orientation. A camera photo never has
    a whole edge at exactly one of those values; a cut within the last row of blocks goes unseen."""
    depth = max(1, 8 // reduction)
    if min(pixels.shape[:2]) <= depth:
        return False
    edges = (pixels[:depth], pixels[-depth:], pixels[:, :depth], pixels[:, -depth:])
    return any(bool((edge == value).all()) for edge in edges for value in _MISSING_BLOCK_VALUES)


def _decode_heif(data: bytes, max_pixels: int) -> np.ndarray:
    """HEIF/HEIC to 8-bit BGR, after the pixel cap and the room under the data limit."""
    try:
        heif = open_heif(data)
        width, height = heif.size  # libheif's own header, read before any pixel is decoded
        if width * height > max_pixels:
            raise InvalidImage(
                f"The image is {width}x{height} = {width * height:,} pixels, "
                f"over the limit of {max_pixels:,} for HEIF."
            )
        check_heif_room(width * height, heif.info.get("bit_depth", 8), heif.has_alpha)
        return heif_pixels(heif)
    except (ValueError, EOFError, SyntaxError, RuntimeError, OSError, IndexError) as error:
        raise InvalidImage(f"The HEIF data could not be decoded ({error}).") from error


def open_heif(data: bytes) -> pillow_heif.HeifFile:
    """libheif's reading of the file's boxes; no pixel is decoded until heif_pixels."""
    return pillow_heif.open_heif(data, convert_hdr_to_8bit=True, bgr_mode=True)


def heif_pixels(heif: pillow_heif.HeifFile) -> np.ndarray:
    """The primary image as 8-bit BGR. libheif applies the file's rotation and mirror
    (`irot`/`imir`, which the HEIF spec makes authoritative; pillow-heif then resets the EXIF
    orientation to 1)."""
    pixels = np.asarray(heif)
    if pixels.ndim == 2:
        return cv2.cvtColor(pixels, cv2.COLOR_GRAY2BGR)
    if pixels.shape[2] == 4:
        return cv2.cvtColor(pixels, cv2.COLOR_BGRA2BGR)
    return pixels


def heif_room_needed(pixels: int, bit_depth: int, has_alpha: bool) -> int:
    """Bytes of data-limit room that decoding a HEIF of this many pixels takes at most."""
    per_pixel = HEIF_BYTES_PER_PIXEL
    per_pixel += HEIF_DEEP_EXTRA if bit_depth > 8 else 0
    per_pixel += HEIF_ALPHA_EXTRA if has_alpha else 0
    return HEIF_THREAD_ROOM + pixels * per_pixel


def check_heif_room(pixels: int, bit_depth: int, has_alpha: bool) -> None:
    """InvalidImage before libheif starts when its decode would not fit under the data limit.
    The other decoders fail cleanly at the limit; libheif's tile and libde265's worker threads
    start during the decode, and a thread that cannot allocate its thread-local storage there
    ends the whole process (glibc: "cannot allocate memory for thread-local data: ABORT")."""
    room = data_room()
    if room is not None and heif_room_needed(pixels, bit_depth, has_alpha) > room:
        raise InvalidImage(OVER_MEMORY)
