"""`python -m bench` (`make bench`): every benchmark in turn, tables on stdout, JSON in
bench/results/. The load test is `make soak` (python -m bench.load)."""

from __future__ import annotations

import importlib
import sys

MODULES = [
    "bench.accuracy",
    "bench.ablation",
    "bench.ablation_faceapi",
    "bench.calibration",
    "bench.calibration_cydral",
    "bench.expression",
    "bench.tfjs_parity",
    "bench.pack_speed",
    "bench.parity",
    "bench.speed",
    "bench.peer",
    "bench.service",
    "bench.startup",
    "bench.cli_startup",
]


def main() -> int:
    failures = 0
    for name in MODULES:
        print(f"\n===== {name} =====\n", flush=True)
        failures += importlib.import_module(name).main([]) != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
