"""How long does `readface analyze` take to start, with and without the model cache? About 30 s.

`readface analyze` on one photo, from process start to exit: with OpenVINO's model cache empty
(cold: every network compiled), filled (warm: imported), and off (a data directory it cannot
make, as in the worker image without a data volume). Wall time and the CPU time the process
used (the machine is shared: CPU time is what the start-up itself costs).

    python -m bench.speed.cli_startup [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import REPO, median, save, table

READFACE = Path(sys.executable).with_name("readface")


def one_run(photo: Path, data_dir: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one `readface analyze PHOTO` with this data directory."""
    env = {**os.environ, "READFACE_DATA_DIR": str(data_dir)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [str(READFACE), "analyze", str(photo)], env=env, check=True, stdout=subprocess.DEVNULL
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--photo", type=Path, default=None)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="readface-startup-") as tmp:
        photo = args.photo or Path(tmp) / "portrait.jpg"
        if args.photo is None:
            import cv2
            from skimage import data

            rgb = data.astronaut()
            cv2.imwrite(str(photo), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        # Under a file, the cache directory cannot be made (whoever runs this, root too).
        unusable = Path(tmp) / "a-file"
        unusable.touch()
        runs: dict[str, list[tuple[float, float]]] = {"cold": [], "warm": [], "no cache": []}
        # Rounds alternate, so drift on a shared machine hits all three alike.
        for run in range(args.runs):
            data_dir = Path(tmp) / f"data{run}"
            runs["cold"].append(one_run(photo, data_dir))
            runs["warm"].append(one_run(photo, data_dir))
            runs["no cache"].append(one_run(photo, unusable / "data"))
            shutil.rmtree(data_dir)
    rows = [
        [name, median([w for w, _ in values]), median([c for _, c in values])]
        for name, values in runs.items()
    ]
    print(
        table(
            ["model cache", "wall, s", "CPU, s"],
            rows,
            f"`readface analyze` on one photo, process start to exit (median of {args.runs})",
        )
    )
    save("cli_startup", {name: values for name, values in runs.items()} | {"repo": str(REPO)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
