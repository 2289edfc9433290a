"""How much memory does an image at each format's pixel cap take? About 9 min.

Peak RSS of a worker process that decodes and analyses one image at its format's pixel cap.

Each image is generated here (the astronaut tiled to the cap, so the detector has real faces to
work on), then analysed by the real Pipeline in a fresh process that reports its VmHWM (peak
resident set) from /proc/self/status, after loading the models and after the analysis, run under
the worker's memory ceiling (worker/memory_limit.py) as in a worker. The caps in
shared/imageinfo.py are chosen so that every row stays under 400 MB.

    python -m bench.speed.decode_memory
"""

from __future__ import annotations

import io
import math
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pillow_heif
from PIL import Image

from bench.common import save, table
from shared.imageinfo import FORMAT_MAX_PIXELS, MAX_HELD_COEFFICIENT_BYTES
from shared.settings import get_settings

BUDGET_MB = 400


def _vm_hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _size_at(cap: int, aspect: float = 4 / 3) -> tuple[int, int]:
    # even sides: HEIF encoders pad odd ones, and libheif then reports the padded size
    height = math.isqrt(int(cap / aspect)) // 2 * 2
    return cap // height // 2 * 2, height


def _canvas(width: int, height: int) -> np.ndarray:
    """BGR astronaut tiles covering width x height (faces everywhere, realistic entropy)."""
    from harness.images import astronaut_rgb

    tile = cv2.cvtColor(astronaut_rgb(), cv2.COLOR_RGB2BGR)
    reps = (-(-height // tile.shape[0]), -(-width // tile.shape[1]), 1)
    return np.ascontiguousarray(np.tile(tile, reps)[:height, :width])


def _cv2(ext: str, params: list[int] | None = None) -> Callable[[np.ndarray], bytes]:
    return lambda bgr: cv2.imencode(ext, bgr, params or [])[1].tobytes()


def _png16_alpha(bgr: np.ndarray) -> bytes:
    alpha = np.full((*bgr.shape[:2], 1), 200, dtype=np.uint16) * 257
    return _cv2(".png")(np.concatenate([bgr.astype(np.uint16) * 257, alpha], axis=2))


def _heif(bgr: np.ndarray) -> bytes:
    pillow_heif.register_heif_opener()
    buffer = io.BytesIO()
    Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)).save(buffer, format="HEIF", quality=80)
    return buffer.getvalue()


def _progressive(subsampling: int) -> Callable[[np.ndarray], bytes]:
    # a progressive JPEG's coefficients are held whole: 4:4:4 holds twice what 4:2:0 does
    def encode(bgr: np.ndarray) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)).save(
            buffer, format="JPEG", quality=90, progressive=True, subsampling=subsampling
        )
        return buffer.getvalue()

    return encode


def _cap(kind: str, max_pixels: int) -> int:
    """Pixels at the cap: the format's, or for progressive JPEG the coefficient bound's
    (2 bytes a coefficient; 3 samples a pixel at 4:4:4, 1.5 at 4:2:0), with block rounding."""
    per_pixel = {"progressive 4:4:4": 6, "progressive 4:2:0": 3}.get(kind)
    if per_pixel:
        return min(max_pixels, int(MAX_HELD_COEFFICIENT_BYTES / per_pixel * 0.99))
    return min(max_pixels, FORMAT_MAX_PIXELS.get(kind, max_pixels))


CASES: dict[str, tuple[str, Callable[[np.ndarray], bytes]]] = {
    "jpeg baseline 4:2:0": ("jpeg", _cv2(".jpg", [cv2.IMWRITE_JPEG_QUALITY, 90])),
    "jpeg progressive 4:4:4": ("progressive 4:4:4", _progressive(0)),
    "jpeg progressive 4:2:0": ("progressive 4:2:0", _progressive(2)),
    "png 8-bit RGB": ("png", _cv2(".png", [cv2.IMWRITE_PNG_COMPRESSION, 1])),
    "png 16-bit RGBA": ("png", _png16_alpha),
    "webp lossy": ("webp", _cv2(".webp", [cv2.IMWRITE_WEBP_QUALITY, 90])),
    "webp lossless": ("webp", _cv2(".webp", [cv2.IMWRITE_WEBP_QUALITY, 101])),
    "bmp": ("bmp", _cv2(".bmp")),
    "heif": ("heif", _heif),
}


def measure_one(path: str) -> None:
    """Child process: load the pipeline, analyse one file, print peak RSS before and after."""
    from worker.memory_limit import limit_memory
    from worker.pipeline import load_pipeline

    cv2.setNumThreads(1)  # as in a worker process
    settings = get_settings()
    pipeline = load_pipeline(settings)
    loaded = _vm_hwm_mb()
    limit_memory(settings.worker_memory_mb)  # under the worker's ceiling, as in a worker
    analysis = pipeline.analyze(Path(path).read_bytes())
    print(loaded, _vm_hwm_mb(), len(analysis.result["faces"]), len(analysis.annotated_jpeg))


def main() -> None:
    max_pixels = get_settings().max_pixels
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (fmt, encode) in CASES.items():
            width, height = _size_at(_cap(fmt, max_pixels))
            path = Path(tmp) / "image"
            path.write_bytes(encode(_canvas(width, height)))
            run = subprocess.run(
                [sys.executable, "-m", "bench.speed.decode_memory", "--one", str(path)],
                capture_output=True,
                text=True,
            )
            if run.returncode:
                print(f"{name}: {run.stderr.strip().splitlines()[-1]}", file=sys.stderr)
                continue
            loaded, peak, faces, annotated = run.stdout.split()
            rows.append(
                [name, f"{width}x{height}", path.stat().st_size // 1024, float(loaded),
                 float(peak), int(faces), int(annotated) // 1024]
            )  # fmt: skip
    headers = ["image", "size", "file KB", "models MB", "peak MB", "faces", "annotated KB"]
    print(table(headers, rows, f"Worker peak RSS (VmHWM) at each format's cap, budget {BUDGET_MB}"))
    save("decode_memory", [dict(zip(headers, row, strict=True)) for row in rows])


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        measure_one(sys.argv[2])
    else:
        main()
