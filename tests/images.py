"""Real photos for tests, obtained without ../shared: the public-domain astronaut portrait
(Eileen Collins, NASA) that ships inside the scikit-image wheel, and composites built from it."""

from __future__ import annotations

import functools
import io

import numpy as np
from PIL import Image
from skimage import data


@functools.cache
def astronaut_rgb() -> np.ndarray:
    """512x512 RGB; one face, a woman (born 1956, photographed in her late thirties)."""
    return data.astronaut()


def encode(rgb: np.ndarray, fmt: str = "JPEG", **options: object) -> bytes:
    """Encode an RGB array with Pillow (JPEG, PNG, WEBP, BMP)."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def astronaut_jpeg(quality: int = 90) -> bytes:
    """The astronaut as JPEG; a different quality gives different bytes (a different id)."""
    return encode(astronaut_rgb(), "JPEG", quality=quality)


def astronaut_grid(columns: int, rows: int) -> np.ndarray:
    """The astronaut tiled columns x rows times: one face per tile, at known positions."""
    return np.tile(astronaut_rgb(), (rows, columns, 1))
