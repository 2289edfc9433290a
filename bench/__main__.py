"""`python -m bench` (`make bench`): every benchmark in turn, tables on stdout, JSON in
bench/results/. The load test is `make soak` (python -m bench.faults.load)."""

from __future__ import annotations

import importlib
import sys
import time

MODULES = [
    "bench.accuracy.packs",
    "bench.accuracy.ablation",
    "bench.accuracy.ablation_faceapi",
    "bench.accuracy.expression",
    "bench.accuracy.tfjs_parity",
    "bench.accuracy.parity",
    "bench.calibration.faceapi",
    "bench.calibration.cydral",
    "bench.speed.packs",
    "bench.speed.pipeline",
    "bench.speed.peer",
    "bench.speed.service",
    "bench.speed.startup",
    "bench.speed.cli_startup",
]


def main() -> int:
    failures = 0
    for name in MODULES:
        print(f"\n===== {name} =====\n", flush=True)
        started = time.monotonic()
        failures += importlib.import_module(name).main([]) != 0
        print(f"\n===== {name}: {time.monotonic() - started:.0f} s =====", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
