"""Real photos for tests, obtained without ../shared: the public-domain astronaut portrait
(Eileen Collins, NASA) that ships inside the scikit-image wheel, and composites built from it."""

from __future__ import annotations

import functools
import io
import struct
import zlib

import cv2
import numpy as np
import pillow_heif
from PIL import Image
from skimage import data

from shared.work_quota import job_cost

# The detector's box on the 512x512 astronaut (default pack): x, y, width, height.
ASTRONAUT_FACE = (179, 58, 93, 119)


@functools.cache
def astronaut_rgb() -> np.ndarray:
    """512x512 RGB; one face, a woman (born 1956, photographed in her late thirties)."""
    return data.astronaut()


def encode(
    rgb: np.ndarray, fmt: str = "JPEG", *, mode: str | None = None, **options: object
) -> bytes:
    """Encode an RGB array with Pillow (JPEG, PNG, WEBP, BMP), converted to mode first if given
    (greyscale "L", "CMYK")."""
    image = Image.fromarray(rgb)
    buffer = io.BytesIO()
    (image.convert(mode) if mode else image).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def astronaut_jpeg(quality: int = 90) -> bytes:
    """The astronaut as JPEG; a different quality gives different bytes (a different id)."""
    return encode(astronaut_rgb(), "JPEG", quality=quality)


def astronaut_jpegs(count: int) -> list[bytes]:
    """The astronaut's head (256x256, one face) `count` times, each with its own JPEG comment:
    distinct bytes (ids), the same pixels and so the same quick analysis."""
    head = astronaut_rgb()[:256, 100:356]
    return [encode(head, "JPEG", quality=80, comment=f"copy {i}".encode()) for i in range(count)]


def jpeg_claiming(data: bytes, width: int, height: int) -> bytes:
    """The JPEG with its start-of-frame size replaced (the scans are left as they are)."""
    sof = next(data.find(m) for m in (b"\xff\xc0", b"\xff\xc2") if data.find(m) > 0)
    return data[: sof + 5] + struct.pack(">HH", height, width) + data[sof + 9 :]


def scan_bomb(scans: int, side: int = 6320) -> bytes:
    """A small progressive JPEG whose last refinement scan is repeated up to `scans` scans, with a
    frame claiming side x side (issue 19's 1.6 MB file held 20,000 scans)."""
    data = encode(np.full((16, 16, 3), 90, dtype=np.uint8), "JPEG", progressive=True)
    last = data.rfind(b"\xff\xda")
    body = data[:-2] + data[last:-2] * (scans - data.count(b"\xff\xda")) + b"\xff\xd9"
    return jpeg_claiming(body, side, side)


def astronaut_grid(columns: int, rows: int) -> np.ndarray:
    """The astronaut tiled columns x rows times: one face per tile, at known positions."""
    return np.tile(astronaut_rgb(), (rows, columns, 1))


def astronaut_group(faces: int, scale: int = 1) -> np.ndarray:
    """A group photo of `faces` astronauts (at most 12), head and shoulders in a 4x3 grid on a grey
    wall, 1000x900 times `scale`: faces large enough for the detector to find every one."""
    head = astronaut_rgb()[:300, 100:350]
    height, width = head.shape[:2]
    group = np.full((3 * height, 4 * width, 3), 180, dtype=np.uint8)
    for place in range(faces):
        row, column = divmod(place, 4)
        group[row * height : (row + 1) * height, column * width : (column + 1) * width] = head
    return cv2.resize(group, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)


def astronaut_place(width: int, height: int) -> tuple[int, int, int]:
    """Side, left and top of the astronaut in the upright scene: 2/3 of the shorter side, near
    the top-left corner, so any wrong flip or rotation moves the face far away."""
    return min(width, height) * 2 // 3, width // 12, height // 12


def astronaut_scene_face(width: int, height: int) -> tuple[int, int, int, int]:
    """Where astronaut_scene puts the face: x, y, width, height."""
    side, left, top = astronaut_place(width, height)
    x, y, w, h = (round(v * side / 512) for v in ASTRONAUT_FACE)
    return x + left, y + top, w, h


def astronaut_scene(width: int, height: int, texture: bool = False) -> np.ndarray:
    """A photo of any size (RGB): the astronaut on a plain wall (see astronaut_place); with
    texture, a sensor-like grain that makes it weigh, as a JPEG, what a phone photo does."""
    side, left, top = astronaut_place(width, height)
    column = np.linspace(200, 150, height, dtype=np.float32)[:, None]
    row = np.linspace(0, 30, width, dtype=np.float32)[None, :]
    wall = column + row
    scene = np.empty((height, width, 3), dtype=np.uint8)
    for channel, tint in enumerate((1.0, 0.95, 0.85)):
        scene[:, :, channel] = wall * tint
    portrait = Image.fromarray(astronaut_rgb()).resize((side, side), Image.Resampling.BICUBIC)
    scene[top : top + side, left : left + side] = np.asarray(portrait)
    if texture:
        noise = np.empty_like(scene)
        cv2.randn(noise, (0, 0, 0), (12, 12, 12))  # saturates at 0: a half-normal grain
        cv2.add(scene, noise, dst=scene)
    return scene


@functools.cache
def _phone_photo(width: int, height: int) -> bytes:
    return encode(astronaut_scene(width, height, texture=True), "JPEG", quality=90)


def phone_photo(index: int, width: int = 4032, height: int = 3024) -> bytes:
    """A phone-sized JPEG (12 MP: about 3 MB; 3264x2448: about 2 MB), one face; each index
    adds its own comment segment after the start marker: distinct bytes (ids), the same pixels."""
    base = _phone_photo(width, height)
    comment = f"photo {index}".encode()
    return base[:2] + b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment + base[2:]


# A client's queued-work quota with room for one astronaut_jpeg(quality=90) upload, not two.
QUOTA = 3 * job_cost(len(astronaut_jpeg(quality=90)), 512 * 512) // 2


def png_chunk(kind: bytes, body: bytes) -> bytes:
    """One PNG chunk: length, type, body and CRC."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims a size, followed by one tiny IDAT: a decompression-bomb header."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 16)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat)


def heic(rgb: np.ndarray, orientation: int = 1) -> bytes:
    """HEIC bytes of an RGB array (pillow-heif's x265 encoder), with an EXIF orientation."""
    pillow_heif.register_heif_opener()
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="HEIF", quality=80, exif=exif.tobytes())
    return buffer.getvalue()


def slow_png(seed: int, side: int = 4000) -> bytes:
    """A big PNG (no reduced decode for PNG): 16 MP, the PNG cap, one decoder call of 0.15 s or
    more."""
    big = np.tile(astronaut_rgb(), (side // 512 + 1, side // 512 + 1, 1))[:side, :side]
    big[0, 0] = (seed % 256, seed // 256 % 256, 7)  # distinct bytes, distinct id
    return encode(big, "PNG", compress_level=1)
