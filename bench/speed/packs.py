"""How fast is each pack, stage by stage? About 2 min.

Per-stage time of each pack on the same photos, in one run of alternating rounds (every pack
once per photo per round, so a slow spell of this shared machine hits all alike), one thread,
on the configured engine: the default pack with and without its expression networks
(READFACE_ATTRIBUTES=gender,age) against the cydral pack, the default until issue 28. Classify
is also given per face, and as a ratio to the cydral pack's.

    python -m bench.speed.packs [--eval-dir DIR] [--portraits 20] [--rounds 5]
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import cv2

from bench.accuracy import packs as accuracy
from bench.common import EVAL_DIR, save, table
from bench.speed.pipeline import STAGES, group_photos
from shared.settings import get_settings
from worker.pipeline import Pipeline, load_pipeline

BASELINE = "cydral"


def pipelines() -> dict[str, Pipeline]:
    settings = get_settings()
    without = dataclasses.replace(settings, attributes=("gender", "age"))
    return {
        "default": load_pipeline(settings, "default"),
        "default, gender,age": load_pipeline(without, "default", verified=True),
        BASELINE: load_pipeline(settings, BASELINE),
    }


def photo_sets(eval_dir: Path, portraits: int) -> dict[str, list[bytes]]:
    folder = eval_dir / "congress"
    rows = accuracy.labels(folder)[:portraits]
    return {
        f"{portraits} portraits": [accuracy.photo_bytes(folder, row) for row in rows],
        "group photos": [path.read_bytes() for path in group_photos(eval_dir)],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
    parser.add_argument("--portraits", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)  # as in a worker process
    packs = pipelines()
    sets = photo_sets(args.eval_dir, args.portraits)
    # samples[pack][set][stage]: per round, the stage's time summed over the set's photos
    samples: dict[str, dict[str, dict[str, list[float]]]] = {
        p: {s: {st: [] for st in (*STAGES, "faces")} for s in sets} for p in packs
    }
    for round_ in range(args.rounds + 1):  # the first round warms up
        for set_name, photos in sets.items():
            for data in photos:
                for pack, pipeline in packs.items():
                    result = pipeline.analyze(data).result
                    if round_ == 0:
                        continue
                    for stage in STAGES:
                        samples[pack][set_name][stage].append(result["timings_ms"][stage])
                    samples[pack][set_name]["faces"].append(len(result["faces"]))
    rows = []
    for set_name, photos in sets.items():
        spent = {
            pack: {stage: sum(got[stage]) / args.rounds for stage in (*STAGES, "faces")}
            for pack, by_set in samples.items()
            for got in (by_set[set_name],)
        }
        per_face = {pack: t["classify"] / max(t["faces"], 1) for pack, t in spent.items()}
        for pack, t in spent.items():
            rows.append(
                [
                    set_name,
                    pack,
                    *(f"{t[stage] / len(photos):.1f}" for stage in STAGES),
                    f"{per_face[pack]:.2f}",
                    f"{per_face[pack] / per_face[BASELINE]:.2f}",
                ]
            )
    engine = next(iter(packs.values())).engine
    title = (
        f"Milliseconds per photo by stage (mean over {args.rounds} rounds), {engine.name} "
        f"{engine.precision}, one thread; classify per face, and its ratio to {BASELINE}'s"
    )
    headers = ["photos", "pack", *STAGES, "classify/face", f"x {BASELINE}"]
    print(table(headers, rows, title))
    save("pack_speed", {"rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
