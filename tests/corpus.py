"""What users actually send, generated at test time from the astronaut (nothing large is committed).

Phone-sized JPEGs of several megabytes (12 MP and 48 MP, baseline and progressive), every EXIF
orientation, and the other formats cameras, editors and phones produce (PNG with alpha, 16-bit
PNG, greyscale and CMYK JPEG, lossy and lossless WebP, BMP, HEIC), plus a file of exactly the
default upload limit. Every photo shows one face at a known place in the upright image.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from harness.images import astronaut_place, astronaut_scene, astronaut_scene_face, encode
from shared.settings import Settings

DEFAULT_MAX_UPLOAD_BYTES = Settings().max_upload_bytes
EXIF_ORIENTATION_TAG = 0x0112
# The stored pixels for each EXIF orientation: the transform that undoes what a viewer applies,
# so the viewer shows the upright photo (2, 3, 4, 5 and 7 are their own inverse).
_STORED_FOR_ORIENTATION = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


@dataclass(frozen=True, slots=True)
class Box:
    x: int
    y: int
    width: int
    height: int

    @classmethod
    def of(cls, box: dict[str, int]) -> Box:
        """From the contract's `box` object."""
        return cls(box["x"], box["y"], box["width"], box["height"])

    def iou(self, other: Box) -> float:
        """Intersection over union: 1 for the same box, 0 for boxes that do not touch."""
        left, top = max(self.x, other.x), max(self.y, other.y)
        right = min(self.x + self.width, other.x + other.width)
        bottom = min(self.y + self.height, other.y + other.height)
        inter = max(0, right - left) * max(0, bottom - top)
        union = self.width * self.height + other.width * other.height - inter
        return inter / union


@dataclass(frozen=True, slots=True)
class Photo:
    """One file as a user would send it; width, height and face are in the upright image."""

    name: str
    path: Path
    content_type: str
    width: int
    height: int
    face: Box
    orientation: int = 1

    @property
    def data(self) -> bytes:
        return self.path.read_bytes()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True, slots=True)
class _Spec:
    content_type: str
    width: int
    height: int
    encode: Callable[[np.ndarray], bytes]
    orientation: int = 1
    texture: bool = False  # sensor-like noise, so a phone-sized JPEG weighs what a real one does


def _pillow(fmt: str, mode: str | None = None, **options: object) -> Callable[[np.ndarray], bytes]:
    return lambda rgb: encode(rgb, fmt, mode=mode, **options)


def _jpeg_with_orientation(orientation: int) -> Callable[[np.ndarray], bytes]:
    def encode(rgb: np.ndarray) -> bytes:
        image = Image.fromarray(rgb)
        method = _STORED_FOR_ORIENTATION[orientation]
        stored = image.transpose(method) if method is not None else image
        exif = Image.Exif()
        exif[EXIF_ORIENTATION_TAG] = orientation
        buffer = io.BytesIO()
        stored.save(buffer, format="JPEG", quality=90, exif=exif.tobytes())
        return buffer.getvalue()

    return encode


def _png_with_alpha(rgb: np.ndarray) -> bytes:
    """A cut-out: the wall around the portrait is fully transparent, the portrait opaque."""
    alpha = np.zeros(rgb.shape[:2], dtype=np.uint8)
    side, left, top = astronaut_place(rgb.shape[1], rgb.shape[0])
    alpha[top : top + side, left : left + side] = 255
    buffer = io.BytesIO()
    Image.fromarray(np.dstack([rgb, alpha])).save(buffer, format="PNG")
    return buffer.getvalue()


def _png_16_bit(rgb: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR).astype(np.uint16) * 257)
    assert ok
    return encoded.tobytes()


def _heic(rgb: np.ndarray) -> bytes:
    import pillow_heif  # the HEIF encoder; imported here so other photos work without it

    buffer = io.BytesIO()
    pillow_heif.from_pillow(Image.fromarray(rgb)).save(buffer, quality=85)
    return buffer.getvalue()


def _padded_to_limit(rgb: np.ndarray) -> bytes:
    """A JPEG followed by zeros up to exactly the default limit, as phones append data (motion
    photos, maker trailers) after the end-of-image marker."""
    jpeg = _pillow("JPEG", quality=90)(rgb)
    return jpeg + bytes(DEFAULT_MAX_UPLOAD_BYTES - len(jpeg))


_SMALL = (1600, 1200)
SPECS: dict[str, _Spec] = {
    "phone-12mp.jpg": _Spec("image/jpeg", 4032, 3024, _pillow("JPEG", quality=95), texture=True),
    "phone-12mp-progressive.jpg": _Spec(
        "image/jpeg", 4032, 3024, _pillow("JPEG", quality=95, progressive=True), texture=True
    ),
    "phone-48mp.jpg": _Spec("image/jpeg", 8064, 6048, _pillow("JPEG", quality=92), texture=True),
    "phone-48mp-progressive.jpg": _Spec(
        "image/jpeg", 8064, 6048, _pillow("JPEG", quality=92, progressive=True), texture=True
    ),
    # A phone held upright: 3024x4032 as seen, stored landscape for orientations 5 to 8.
    **{
        f"orientation-{n}.jpg": _Spec("image/jpeg", 3024, 4032, _jpeg_with_orientation(n), n)
        for n in range(1, 9)
    },
    "alpha.png": _Spec("image/png", *_SMALL, _png_with_alpha),
    "16-bit.png": _Spec("image/png", *_SMALL, _png_16_bit),
    "greyscale.jpg": _Spec("image/jpeg", *_SMALL, _pillow("JPEG", "L", quality=90)),
    "cmyk.jpg": _Spec("image/jpeg", *_SMALL, _pillow("JPEG", "CMYK", quality=90)),
    "lossy.webp": _Spec("image/webp", *_SMALL, _pillow("WEBP", quality=85)),
    "lossless.webp": _Spec("image/webp", *_SMALL, _pillow("WEBP", lossless=True)),
    "photo.bmp": _Spec("image/bmp", *_SMALL, _pillow("BMP")),
    "photo.heic": _Spec("image/heic", *_SMALL, _heic),
    "at-limit.jpg": _Spec("image/jpeg", *_SMALL, _padded_to_limit),
}
NAMES = tuple(SPECS)
ORIENTATIONS = tuple(name for name in NAMES if name.startswith("orientation-"))


class Corpus:
    """The photos of SPECS, each generated on first use and kept as a file in folder (a session's
    pytest temp dir), so every test and every upload path reads the same bytes."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    @classmethod
    def for_session(cls, factory: pytest.TempPathFactory) -> Corpus:
        return cls(factory.getbasetemp() / "corpus")

    def photo(self, name: str) -> Photo:
        spec = SPECS[name]
        path = self.folder / name
        if not path.exists():
            scene = astronaut_scene(spec.width, spec.height, spec.texture)
            partial = path.with_suffix(".partial")
            partial.write_bytes(spec.encode(scene))
            partial.rename(path)  # a reader never sees half a file
        face = Box(*astronaut_scene_face(spec.width, spec.height))
        return Photo(name, path, spec.content_type, spec.width, spec.height, face, spec.orientation)

    def over_limit(self) -> Path:
        """A real JPEG one byte over the default upload limit."""
        path = self.folder / "over-limit.jpg"
        if not path.exists():
            at_limit = self.photo("at-limit.jpg").data
            path.write_bytes(at_limit + b"\0")
        return path
