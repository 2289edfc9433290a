"""Hostile images (issue 26), generated in code: small on the wire, each once costly to decode.

The defaults are the sizes of the issue's table (`bench.faults.abuse`); tests pass smaller ones.
Every container is written by hand where no encoder here writes it (arithmetic-coded and lossless
JPEG, HEIF grids, animated WebP, APNG); the compressed data inside comes from real encoders or is
the shortest valid coding of a flat image.
"""

from __future__ import annotations

import io
import struct
import zlib

import cv2
import numpy as np
import pillow_heif
from PIL import Image

from harness.images import astronaut_rgb, encode, png_chunk

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _ihdr(width: int, height: int, depth: int = 8, colour: int = 2) -> bytes:
    return png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0))


def png_length_lie(length: int = 0xFFFFFFF0) -> bytes:
    """57 bytes: a 512x512 header, then an IDAT chunk declaring `length` bytes and holding 16."""
    return PNG_SIGNATURE + _ihdr(512, 512) + struct.pack(">I", length) + b"IDAT" + b"\0" * 16


def _flat_idat(width: int, height: int, pixel_bytes: int) -> bytes:
    """Deflated rows of a flat image (filter byte 0 and zero samples), compressed row by row."""
    compressor = zlib.compressobj(9)
    row = b"\0" * (1 + width * pixel_bytes)
    return b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()


def png_text_bomb(
    chunks: int = 1000, inflated: int = 7_000_000, picture: bytes | None = None
) -> bytes:
    """A PNG (the astronaut by default) with `chunks` zTXt chunks, each inflating to `inflated`
    bytes: about 6.8 MB on the wire with the defaults, 7 GB once a reader keeps every text."""
    picture = picture or encode(astronaut_rgb(), "PNG")
    text = png_chunk(b"zTXt", b"comment\0\0" + zlib.compress(b"\0" * inflated, 9))
    after_ihdr = len(PNG_SIGNATURE) + 25
    return picture[:after_ihdr] + text * chunks + picture[after_ihdr:]


def apng(side: int = 4000, frames: int = 2) -> bytes:
    """A 16-bit RGBA animated PNG of `frames` full-size frames (the default image is the first)."""
    data = _flat_idat(side, side, 8)

    def control(sequence: int) -> bytes:
        body = struct.pack(">IIIIIHHBB", sequence, side, side, 0, 0, 1, 10, 0, 0)
        return png_chunk(b"fcTL", body)

    chunks = [_ihdr(side, side, 16, 6), png_chunk(b"acTL", struct.pack(">II", frames, 0))]
    chunks += [control(0), png_chunk(b"IDAT", data)]
    for frame in range(1, frames):
        sequence = 2 * frame - 1
        chunks += [control(sequence), png_chunk(b"fdAT", struct.pack(">I", sequence + 1) + data)]
    return PNG_SIGNATURE + b"".join(chunks) + png_chunk(b"IEND", b"")


def _riff_chunk(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("<I", len(body)) + body + b"\0" * (len(body) % 2)


def animated_webp(side: int = 4690, frames: int = 2) -> bytes:
    """An animated WebP whose `frames` frames are each a lossy side x side picture."""
    still = cv2.imencode(".webp", np.full((side, side, 3), 90, np.uint8))[1].tobytes()
    bitstream = still[12:]  # the VP8 chunk of the still file
    canvas = (side - 1).to_bytes(3, "little") * 2
    frame = b"\0" * 6 + canvas + (100).to_bytes(3, "little") + b"\0" + bitstream
    body = (
        b"WEBP"
        + _riff_chunk(b"VP8X", b"\x02\0\0\0" + canvas)
        + _riff_chunk(b"ANIM", b"\0" * 6)
        + _riff_chunk(b"ANMF", frame) * frames
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _box(kind: bytes, body: bytes, version_flags: int | None = None) -> bytes:
    if version_flags is not None:
        body = struct.pack(">I", version_flags) + body
    return struct.pack(">I", 8 + len(body)) + kind + body


def _tile_bitstream(side: int) -> tuple[bytes, bytes]:
    """The hvcC box and the coded data of one side x side HEIC picture (pillow-heif's x265)."""
    pillow_heif.register_heif_opener()
    buffer = io.BytesIO()
    Image.fromarray(np.full((side, side, 3), 90, np.uint8)).save(buffer, format="HEIF")
    coded = buffer.getvalue()
    start = coded.find(b"hvcC") - 4
    hvcc = coded[start : start + int.from_bytes(coded[start : start + 4], "big")]
    mdat = coded.find(b"mdat") - 4
    return hvcc, coded[mdat + 8 : mdat + int.from_bytes(coded[mdat : mdat + 4], "big")]


def heif_grid(tiles: int = 31, tile: int = 1024, ispe: int = 1000, output: int = 0) -> bytes:
    """A HEIF whose primary item is a grid of tiles x tiles copies of one tile-pixel picture
    (all pointing at the same coded data), its output `output` pixels square (default: all the
    tiles), its `ispe` property saying ispe x ispe."""
    hvcc, coded = _tile_bitstream(tile)
    count, output = tiles * tiles, output or tiles * tile
    ids = range(2, count + 2)
    items = [_box(b"infe", struct.pack(">HH", 1, 0) + b"grid\0", 0x02000000)]
    items += [_box(b"infe", struct.pack(">HH", i, 0) + b"hvc1\0", 0x02000001) for i in ids]
    iinf = _box(b"iinf", struct.pack(">H", len(items)) + b"".join(items), 0)
    dimg = _box(b"dimg", struct.pack(">HH", 1, count) + b"".join(struct.pack(">H", i) for i in ids))
    properties = hvcc + _box(b"ispe", struct.pack(">II", tile, tile), 0)
    properties += _box(b"ispe", struct.pack(">II", ispe, ispe), 0)
    associations = struct.pack(">HBB", 1, 1, 3) + b"".join(
        struct.pack(">HBBB", i, 2, 0x81, 2) for i in ids
    )
    ipma = _box(b"ipma", struct.pack(">I", count + 1) + associations, 0)
    iprp = _box(b"iprp", _box(b"ipco", properties) + ipma)
    grid = struct.pack(">BBBBHH", 0, 0, tiles - 1, tiles - 1, output, output)

    def meta(mdat_start: int) -> bytes:
        locations = struct.pack(">HHHHII", 1, 1, 0, 1, 0, len(grid)) + b"".join(
            struct.pack(">HHHHII", i, 0, 0, 1, mdat_start, len(coded)) for i in ids
        )
        children = [
            _box(b"hdlr", b"\0" * 4 + b"pict" + b"\0" * 13, 0),
            _box(b"pitm", struct.pack(">H", 1), 0),
            iinf,
            _box(b"iref", dimg, 0),
            iprp,
            _box(b"idat", grid),
            _box(b"iloc", struct.pack(">BBH", 0x44, 0x00, count + 1) + locations, 0x01000000),
        ]
        return _box(b"meta", b"".join(children), 0)

    ftyp = _box(b"ftyp", b"heic\0\0\0\0mif1heic")
    start = len(ftyp) + len(meta(0)) + 8
    return ftyp + meta(start) + _box(b"mdat", coded)


def _segment(marker: int, body: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body


def _frame(marker: int, width: int, height: int, components: int) -> bytes:
    sampling = b"".join(bytes([i + 1, 0x11, 0]) for i in range(components))
    return _segment(marker, struct.pack(">BHHB", 8, height, width, components) + sampling)


def _scan(components: range, ss: int, se: int) -> bytes:
    ids = b"".join(bytes([c + 1, 0x00]) for c in components)
    return _segment(0xDA, bytes([len(components)]) + ids + bytes([ss, se, 0]))


_QUANTISATION = _segment(0xDB, b"\0" + b"\x01" * 64)
# One code of one bit ("0") per table: a difference of category 1 (its extra bit "0" makes it
# -1) for DC and lossless samples, an end of block for AC. A run of zero bytes is then a whole
# image, a gradient that no check takes for missing data.
_ONE_BIT_CODES = _segment(0xC4, b"\x00\x01" + b"\0" * 15 + b"\x01") + _segment(
    0xC4, b"\x10\x01" + b"\0" * 15 + b"\x00"
)


def arithmetic_progressive_cmyk(
    width: int = 8000, height: int = 6000, scan_bytes: int = 75_000
) -> bytes:
    """An arithmetic-coded progressive (SOF10) CMYK JPEG: a DC scan of all four components and
    one AC scan each, `scan_bytes` of coded data per scan (375 KB in all with the defaults)."""
    adobe = _segment(0xEE, b"Adobe" + struct.pack(">HHHB", 100, 0, 0, 0))
    data = bytes(range(1, 251)) * (scan_bytes // 250)
    scans = _scan(range(4), 0, 0) + data
    scans += b"".join(_scan(range(c, c + 1), 1, 63) + data for c in range(4))
    head = b"\xff\xd8" + adobe + _QUANTISATION + _frame(0xCA, width, height, 4)
    return head + scans + b"\xff\xd9"


def separate_scans_jpeg(width: int, height: int, components: int = 4) -> bytes:
    """A baseline (SOF0) flat JPEG with each component in a scan of its own: libjpeg then holds
    every coefficient of the image, whatever the scale it decodes at."""
    blocks = -(-width // 8) * -(-height // 8)
    data = b"\0" * (blocks * 3 // 8 + 1)  # a DC code, its extra bit and an end of block
    scans = b"".join(_scan(range(c, c + 1), 0, 63) + data for c in range(components))
    head = b"\xff\xd8" + _QUANTISATION + _ONE_BIT_CODES + _frame(0xC0, width, height, components)
    return head + scans + b"\xff\xd9"


def lossless_jpeg(width: int, height: int) -> bytes:
    """A lossless (SOF3) flat RGB JPEG: decoded at full size, whatever the scale asked for."""
    data = b"\0" * (-(-width * height * 3 * 2 // 8))  # a code and its extra bit a sample
    scan = _segment(0xDA, b"\x03\x01\x00\x02\x00\x03\x00\x01\x00\x00")
    return b"\xff\xd8" + _ONE_BIT_CODES + _frame(0xC3, width, height, 3) + scan + data + b"\xff\xd9"


def jpeg_with_frame(marker: int, width: int, height: int, components: int = 3) -> bytes:
    """A JPEG of one coding process (its start-of-frame marker) claiming width x height, with one
    scan of every component and a few bytes of data: what a header check sees."""
    frame = _frame(marker, width, height, components)
    scan = _scan(range(components), 0, 63) + b"\0" * 16
    return b"\xff\xd8" + _QUANTISATION + _ONE_BIT_CODES + frame + scan + b"\xff\xd9"
