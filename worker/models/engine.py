"""Inference engines: a loaded network runs a batch, whatever engine loaded it. Models take their
networks from an engine, so OpenVINO can stand in for OpenCV's cv2.dnn without touching them.

Engines and precisions (READFACE_ENGINE, READFACE_PRECISION):
- `opencv`: cv2.dnn in fp32, the reference. It alone reads Caffe files, so it runs res10 from
  the Caffe original; its precision is always `exact`.
- `openvino`: OpenVINO's CPU plugin on ONNX files. `exact` computes in fp32 (cv2.dnn's outputs
  within float rounding); `fast` computes in bf16 where the CPU has it natively (else fp32, and
  the engine reports `exact`); `int8` is `fast` with the detector quantised to int8 at model-build
  time (worker/conversion/res10_int8.py), which the detector's loader picks. Under `fast` and
  `int8`, a network whose answers bf16 moves past the reference's own noise is loaded with
  `full_precision` and computes in fp32 (which ones: PipelineOptions.full_precision under
  `fast`, int8_full_precision under `int8`; issue 30).

Compiled networks are cached in a directory (OpenVINO's model cache, the data directory's
`openvino-cache/`): a process that finds its networks there imports them instead of compiling.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import openvino as ov
import openvino.properties as props
import openvino.properties.hint as hints

from shared.result_values import ENGINES, EXACT, FAST, INT8, PRECISIONS

Shape = tuple[int, ...]
# The model cache's directory under the data directory.
OPENVINO_CACHE = "openvino-cache"


class Network(Protocol):
    """One loaded network: an NCHW float32 batch in, its outputs out."""

    def run(self, batch: np.ndarray) -> np.ndarray:
        """The network's output (its last, for a network with several)."""
        ...

    def outputs(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """Every output of the network, by name."""
        ...


class Engine(Protocol):
    """Loads ONNX networks, computing at the precision it reports."""

    name: str
    precision: str
    # cv2.dnn: the engine every other is checked against, and the only one reading Caffe files.
    reference: bool

    def onnx(
        self, path: Path, shapes: Sequence[Shape] = (), *, full_precision: bool = False
    ) -> Network:
        """The network in an ONNX file; `shapes` are the input shapes known to come, which an
        engine may prepare for (others still run); with `full_precision`, computed in fp32
        whatever the engine's precision."""
        ...


class OpenCVNetwork:
    """A cv2.dnn network."""

    def __init__(self, net: cv2.dnn.Net) -> None:
        self._net = net
        self._names = list(net.getUnconnectedOutLayersNames())

    def run(self, batch: np.ndarray) -> np.ndarray:
        self._net.setInput(batch)
        return self._net.forward()

    def outputs(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        self._net.setInput(batch)
        return dict(zip(self._names, self._net.forward(self._names), strict=True))


def load_caffe(weights: Path, config: Path) -> OpenCVNetwork:
    """cv2.dnn from Caffe weights and their prototxt: only cv2.dnn reads Caffe, whatever the
    engine (OpenVINO has no Caffe reader)."""
    return OpenCVNetwork(cv2.dnn.readNetFromCaffe(str(config), str(weights)))


class OpenCVEngine:
    """cv2.dnn, fp32: the reference."""

    name, precision, reference = "opencv", EXACT, True

    def onnx(
        self, path: Path, shapes: Sequence[Shape] = (), *, full_precision: bool = False
    ) -> OpenCVNetwork:
        return OpenCVNetwork(cv2.dnn.readNetFromONNX(str(path)))  # always fp32


class OpenVINONetwork:
    """A network compiled by OpenVINO: once per known input shape (a static shape runs a few
    percent faster than a dynamic one), and once with dynamic batch and size, on first need, for
    any other shape (compiling a shape costs more than a forward: too much to pay for each new
    number of faces in a batch). docs/performance.md has the figures."""

    def __init__(
        self,
        core: ov.Core,
        path: Path,
        config: dict[str, object],
        shapes: Sequence[Shape],
        cache_dir: Path | None = None,
    ) -> None:
        self._core, self._path, self._config = core, path, config
        self._cache_dir = cache_dir
        # The model is read again for a dynamic compile, not kept: compiled networks imported
        # from the model cache hold their own weights, and a kept model would double them
        # (18 MB more RSS per process with the default pack).
        model = core.read_model(path)
        self._requests = {shape: self._compile(model, list(shape)) for shape in shapes}
        self._dynamic: ov.InferRequest | None = None

    def _compile(self, model: ov.Model, shape: list[int]) -> ov.InferRequest:
        model = model.clone()
        model.reshape({model.inputs[0]: ov.PartialShape(shape)})
        with cache_writes(self._cache_dir):
            compiled = self._core.compile_model(model, "CPU", self._config)
        return compiled.create_infer_request()

    def _request(self, shape: Shape) -> ov.InferRequest:
        request = self._requests.get(shape)
        if request is not None:
            return request
        if self._dynamic is None:
            model = self._core.read_model(self._path)
            self._dynamic = self._compile(model, [-1, shape[1], -1, -1])
        return self._dynamic

    def outputs(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        request = self._request(batch.shape)
        # share_inputs: the batch is read in place (infer is synchronous); outputs are copies
        result = request.infer({0: np.ascontiguousarray(batch)}, share_inputs=True)
        return {output.get_any_name(): np.asarray(value) for output, value in result.items()}

    def run(self, batch: np.ndarray) -> np.ndarray:
        return list(self.outputs(batch).values())[-1]


def cpu_has_bf16(core: ov.Core) -> bool:
    """Whether OpenVINO's CPU plugin computes bf16 natively here (AVX512-BF16 or AMX)."""
    return "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")


class OpenVINOEngine:
    """OpenVINO's CPU plugin, one inference thread (throughput comes from one worker process per
    core), at the requested precision where the CPU has it."""

    name, reference = "openvino", False

    def __init__(
        self, precision: str, *, flush_denormals: bool = True, cache_dir: Path | None = None
    ) -> None:
        self._core = ov.Core()
        self._cache_dir = cache_dir
        if cache_dir is not None:
            self._core.set_property({props.cache_dir: str(cache_dir)})
        bf16 = precision in (FAST, INT8) and cpu_has_bf16(self._core)
        self.precision = INT8 if precision == INT8 else FAST if bf16 else EXACT
        self._config: dict[str, object] = {
            hints.inference_precision: ov.Type.bf16 if bf16 else ov.Type.f32,
            props.inference_num_threads: 1,
            # Pinned threads of several worker processes could share one core.
            hints.enable_cpu_pinning: False,
            # The age network's activations on real chips include denormal floats, which fp32
            # kernels compute several times slower; flushed to zero, no answer changes
            # (docs/performance.md, "Engines and precision", has the measures). OpenVINO sets
            # the CPU's flush-to-zero flags on the thread that runs the network and leaves them
            # set, so the worker's other float code on that thread flushes denormals too.
            props.intel_cpu.denormals_optimization: flush_denormals,
        }

    def onnx(
        self, path: Path, shapes: Sequence[Shape] = (), *, full_precision: bool = False
    ) -> OpenVINONetwork:
        config = self._config
        if full_precision:
            config = {**config, hints.inference_precision: ov.Type.f32}
        return OpenVINONetwork(self._core, path, config, shapes, self._cache_dir)


@contextlib.contextmanager
def cache_writes(cache_dir: Path | None) -> Iterator[None]:
    """Held around a compile that may read or write the model cache in `cache_dir`, one process
    at a time: OpenVINO writes a compiled network's file, then sets its permissions, and worker
    processes starting together on an empty cache failed on each other's files ("cannot set
    permissions: No such file or directory")."""
    if cache_dir is None:
        yield
        return
    with (cache_dir / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


def check_engine(name: str, precision: str) -> None:
    """ValueError naming the known engines or precisions when either is unknown."""
    if name not in ENGINES:
        raise ValueError(f"unknown inference engine {name!r}; known: {', '.join(ENGINES)}")
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; known: {', '.join(PRECISIONS)}")


def usable_cache(directory: Path) -> Path | None:
    """The directory, created if need be, when this process can write there; else None (a
    read-only image without a data volume compiles at each start instead)."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return directory if os.access(directory, os.W_OK | os.X_OK) else None


def load_engine(name: str, precision: str = EXACT, cache_dir: Path | None = None) -> Engine:
    """The named engine at `precision` (created in the process that will run it: OpenVINO's
    threads do not survive a fork), caching compiled networks in `cache_dir` if it is usable;
    ValueError on an unknown name or precision."""
    check_engine(name, precision)
    if name != "openvino":
        return OpenCVEngine()
    return OpenVINOEngine(precision, cache_dir=cache_dir and usable_cache(cache_dir))
