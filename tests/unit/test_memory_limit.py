"""The memory ceiling of an analysis process (worker/memory_limit.py): with the data limit armed,
each decoder that needs more than is left fails as InvalidImage and the process decodes the next
image. Run in a child process, so that the limit never applies to the test runner."""

from __future__ import annotations

import json
import subprocess
import sys

from harness.paths import REPO
from shared.celery_app import celery_config
from shared.settings import Settings
from worker.decode import OVER_MEMORY

# Each image below needs at least 48 MB to decode; the child leaves 24 MB of room.
CHILD = """
import io, json, resource
import cv2, numpy as np
from PIL import Image
from harness import bombs
from harness.images import astronaut_jpeg
from worker.decode import decode_image
from worker.memory_limit import MB, limit_memory, status_bytes

flat = np.full((4000, 4000, 3), 90, np.uint8)
progressive = io.BytesIO()
Image.new("RGB", (8000, 4000), (90, 90, 90)).save(progressive, "JPEG", progressive=True)
images = {
    "png": cv2.imencode(".png", flat)[1].tobytes(),
    "bmp": cv2.imencode(".bmp", flat)[1].tobytes(),
    "webp": cv2.imencode(".webp", flat)[1].tobytes(),
    "jpeg progressive": progressive.getvalue(),
    "jpeg lossless": bombs.lossless_jpeg(4000, 4000),
    "heif grid": bombs.heif_grid(tiles=8, tile=512, ispe=4096),
}
photo = astronaut_jpeg()
del flat, progressive
limit = limit_memory(status_bytes("VmRSS") // MB + 24)
outcomes = {"limit": [limit, *resource.getrlimit(resource.RLIMIT_DATA)]}
for name, data in images.items():
    try:
        decode_image(data, 50_000_000)
        outcomes[name] = "decoded"
    except Exception as error:
        outcomes[name] = f"{type(error).__name__}: {error}"
    outcomes[name + ", then a photo"] = decode_image(photo, 50_000_000).pixels.shape[:2]
print(json.dumps(outcomes))
"""


def test_a_decode_past_the_ceiling_is_invalid_image_and_the_process_goes_on() -> None:
    run = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    outcomes = json.loads(run.stdout.splitlines()[-1])
    limit, soft, hard = outcomes.pop("limit")
    assert soft == hard == limit  # a hard limit: the process cannot raise it again
    for name, outcome in outcomes.items():
        if name.endswith(", then a photo"):
            assert outcome == [512, 512], name
        elif name == "heif grid":
            # refused before libheif starts its threads (worker.decode.check_heif_room)
            assert outcome == f"InvalidImage: {OVER_MEMORY}"
        else:
            assert outcome.startswith("InvalidImage: "), (name, outcome)


def test_celery_replaces_a_process_whose_peak_passed_most_of_the_ceiling() -> None:
    config = celery_config(Settings(worker_memory_mb=600))
    assert config["worker_max_memory_per_child"] == 500_000_000 // 1024
