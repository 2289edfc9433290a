"""Forward time of each network on each engine, one thread: res10 (cv2.dnn Caffe, cv2.dnn ONNX,
OpenVINO CPU fp32 and bf16) and the default pack's age and gender networks on a batch of chips.
Median over alternating rounds (every engine once per round, so drift hits all alike), and each
engine's max |difference| from the first engine's outputs (res10: mbox_loc / mbox_conf).

    python -m bench.engines [--rounds 15] [--runs 10] [--chips 8]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import openvino as ov
import openvino.properties as props
import openvino.properties.hint as hints
from skimage import data

from bench.common import median, save, table
from shared.manifest import load_pack
from shared.settings import get_settings
from worker.models.cydral import CYDRAL_AGE_SIZE, CYDRAL_GENDER_SIZE, CYDRAL_MEAN
from worker.models.res10 import DETECTOR_INPUT, DETECTOR_MEAN

Forward = Callable[[np.ndarray], list[np.ndarray]]


def cpu_has_bf16() -> bool:
    """Whether the CPU computes bf16 natively (else OpenVINO would emulate it, slowly)."""
    flags = Path("/proc/cpuinfo").read_text()
    return "avx512_bf16" in flags or "amx_bf16" in flags


def cv2_engine(net: cv2.dnn.Net, outputs: list[str]) -> Forward:
    def forward(blob: np.ndarray) -> list[np.ndarray]:
        net.setInput(blob)
        return list(net.forward(outputs))

    return forward


def openvino_engine(path: Path, shape: list[int], precision: ov.Type) -> Forward:
    core = ov.Core()
    model = core.read_model(path)
    model.reshape({model.inputs[0].get_any_name(): shape})
    compiled = core.compile_model(
        model,
        "CPU",
        {hints.inference_precision: precision, props.inference_num_threads: 1},
    )
    request = compiled.create_infer_request()

    def forward(blob: np.ndarray) -> list[np.ndarray]:
        result = request.infer({0: blob})
        return [np.asarray(result[output]) for output in compiled.outputs]

    return forward


def time_engines(
    engines: dict[str, Forward], blob: np.ndarray, rounds: int, runs: int
) -> list[list[object]]:
    """Rows (engine, median ms, max |diff| from the first engine's outputs, one per output)."""
    reference = engines[next(iter(engines))](blob)
    diffs = {
        name: " / ".join(
            f"{np.abs(a.reshape(-1) - b.reshape(-1)).max():.1e}"
            for a, b in zip(reference, forward(blob), strict=True)
        )
        for name, forward in engines.items()
    }
    samples: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(rounds):
        for name, forward in engines.items():
            for _ in range(runs):
                started = time.perf_counter()
                forward(blob)
                samples[name].append((time.perf_counter() - started) * 1000)
    return [[name, median(samples[name]), diffs[name]] for name in engines]


def precisions() -> dict[str, ov.Type]:
    chosen = {"fp32": ov.Type.f32}
    if cpu_has_bf16():
        chosen["bf16"] = ov.Type.bf16
    return chosen


def res10_engines(model_dir: Path) -> dict[str, Forward]:
    roles = load_pack("default").roles
    outputs = ["mbox_loc", "mbox_conf_flatten"]
    caffe = cv2.dnn.readNetFromCaffe(
        str(model_dir / roles["detector_config"]), str(model_dir / roles["detector_weights"])
    )
    engines = {
        "cv2.dnn Caffe": cv2_engine(caffe, outputs),
        "cv2.dnn ONNX": cv2_engine(
            cv2.dnn.readNetFromONNX(str(model_dir / roles["detector_onnx"])), outputs
        ),
    }
    for label, precision in precisions().items():
        engines[f"OpenVINO {label}"] = openvino_engine(
            model_dir / roles["detector_onnx"], [1, 3, *DETECTOR_INPUT[::-1]], precision
        )
    return engines


def classifier_engines(path: Path, chips: int, size: int) -> dict[str, Forward]:
    net = cv2.dnn.readNetFromONNX(str(path))
    engines = {"cv2.dnn ONNX": cv2_engine(net, list(net.getUnconnectedOutLayersNames()))}
    for label, precision in precisions().items():
        engines[f"OpenVINO {label}"] = openvino_engine(path, [chips, 3, size, size], precision)
    return engines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--runs", type=int, default=10, help="forwards per engine per round")
    parser.add_argument("--chips", type=int, default=8, help="batch of the age/gender networks")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    model_dir = get_settings().model_dir
    roles = load_pack("default").roles
    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    face = photo[30:230, 150:350]  # the astronaut's face, for realistic chips
    workloads = [
        (
            "res10 1x3x300x300",
            res10_engines(model_dir),
            cv2.dnn.blobFromImage(photo, 1.0, DETECTOR_INPUT, DETECTOR_MEAN),
        ),
    ]
    for role, size in (("age", CYDRAL_AGE_SIZE), ("gender", CYDRAL_GENDER_SIZE)):
        blob = cv2.dnn.blobFromImages(
            [face] * args.chips, 1 / 256, (size, size), CYDRAL_MEAN, swapRB=True
        )
        workloads.append(
            (
                f"{roles[role]} {args.chips}x3x{size}x{size}",
                classifier_engines(model_dir / roles[role], args.chips, size),
                blob,
            )
        )
    results = {}
    for title, engines, blob in workloads:
        rows = time_engines(engines, blob, args.rounds, args.runs)
        results[title] = rows
        headers = ["engine", "median ms", "max |diff| per output"]
        print(table(headers, rows, title=title), "\n", flush=True)
    if not cpu_has_bf16():
        print("no bf16 rows: the CPU lacks avx512_bf16 and amx_bf16")
    save("engines", results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
