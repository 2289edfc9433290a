"""Build-time check of the `fer` expression network converted from Keras HDF5: the ONNX (run by
cv2.dnn) against the package's own TensorFlow Lite model of the same network (run by OpenVINO's
TFLite reader), on seeded face-sized chips. The TFLite model stores its weights as 8-bit
integers, so the two differ by that rounding, not by float noise."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import openvino as ov
import openvino.properties as props
import openvino.properties.hint as hints

from worker.conversion.check import ConversionMismatch

# Largest |ONNX - TFLite| allowed on a class probability (measured: 0.038 over 350 faces), and
# the share of chips whose likeliest class must agree.
FER_TOLERANCE = 0.1
FER_AGREEMENT = 0.9
FER_INPUT = 64


def check_chips(count: int = 32) -> np.ndarray:
    """Grey 64x64 chips in the network's input range [-1, 1]: smooth seeded noise, so that
    shapes of a face's size, not pixel noise, decide the answers."""
    rng = np.random.default_rng(0)
    chips = [
        cv2.GaussianBlur(rng.uniform(0, 255, (FER_INPUT, FER_INPUT)).astype(np.float32), (0, 0), 3)
        for _ in range(count)
    ]
    stretched = [(c - c.min()) / max(float(np.ptp(c)), 1e-6) * 2 - 1 for c in chips]
    return np.stack(stretched)[:, None].astype(np.float32)


def verify_fer_conversion(onnx_path: Path, tflite_path: Path) -> str:
    """One report line; ConversionMismatch beyond FER_TOLERANCE or FER_AGREEMENT."""
    chips = check_chips()
    net = cv2.dnn.readNetFromONNX(str(onnx_path))
    net.setInput(chips)
    ours = net.forward()
    core = ov.Core()
    # fp32 whatever the CPU offers (OpenVINO's default on bf16 hardware is bf16).
    config = {hints.inference_precision: ov.Type.f32, props.inference_num_threads: 1}
    tflite = core.compile_model(core.read_model(tflite_path), "CPU", config)
    theirs = np.concatenate([tflite(chip.transpose(1, 2, 0)[None])[0] for chip in chips])
    diff = float(np.abs(ours - theirs).max())
    agree = float((ours.argmax(1) == theirs.argmax(1)).mean())
    line = f"{len(chips)} chips: max |ONNX - TFLite| {diff:.3f}, top class agrees on {agree:.0%}"
    if diff > FER_TOLERANCE or agree < FER_AGREEMENT:
        raise ConversionMismatch(f"{onnx_path.name} differs from {tflite_path.name}: {line}")
    return line
