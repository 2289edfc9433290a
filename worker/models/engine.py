"""Inference engines: a loaded network runs a batch, whatever engine loaded it. Models take their
networks from a loader, so another engine can stand in for OpenCV's without touching them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np


class Network(Protocol):
    """One loaded network: an NCHW float32 batch in, its output array out."""

    def run(self, batch: np.ndarray) -> np.ndarray: ...


# A network's weights, and its graph when the format keeps it in a file of its own (Caffe).
LoadNetwork = Callable[[Path, Path | None], Network]


class OpenCVNetwork:
    """A cv2.dnn network."""

    def __init__(self, net: cv2.dnn.Net) -> None:
        self._net = net

    def run(self, batch: np.ndarray) -> np.ndarray:
        self._net.setInput(batch)
        return self._net.forward()


def load_opencv(weights: Path, config: Path | None = None) -> OpenCVNetwork:
    """cv2.dnn from ONNX weights, or from Caffe weights and their prototxt config."""
    if config is None:
        return OpenCVNetwork(cv2.dnn.readNetFromONNX(str(weights)))
    return OpenCVNetwork(cv2.dnn.readNetFromCaffe(str(config), str(weights)))


ENGINES: dict[str, LoadNetwork] = {"opencv": load_opencv}


def network_loader(engine: str = "opencv") -> LoadNetwork:
    """The loader of the named engine; ValueError names the known ones for any other."""
    if engine not in ENGINES:
        raise ValueError(f"unknown inference engine {engine!r}; known: {', '.join(ENGINES)}")
    return ENGINES[engine]
