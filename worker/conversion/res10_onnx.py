"""res10 SSD (Caffe) to ONNX: the convolutional body and the loc/conf heads, built with the `onnx`
package from the blobs cv2.dnn reads. PriorBox and DetectionOutput stay outside the graph
(worker/models/ssd.py does them in numpy), so the graph's outputs are the Caffe blobs that
feed DetectionOutput: `mbox_loc` and `mbox_conf_flatten` (softmaxed).

Deterministic: the same inputs give the same bytes (fixed producer, opset and IR version, no
timestamps, initializers in layer order).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from worker.models.prototxt import Layer, first, read_deploy, window
from worker.models.ssd import head_blobs

OPSET = 13
IR_VERSION = 7
# Caffe's defaults for BatchNorm's and Normalize's epsilon (caffe.proto, SSD's NormalizeParameter).
BATCH_NORM_EPS = 1e-5
NORMALIZE_EPS = 1e-10
# Layers done in numpy (worker/models/ssd.py), and so every layer reading their outputs.
_NUMPY_LAYERS = {"PriorBox", "DetectionOutput"}


@dataclass(slots=True)
class _PendingConv:
    """A convolution not yet emitted, so that in-place BatchNorm/Scale fold into its weights."""

    name: str
    source: str
    weights: np.ndarray  # float64 while folding
    bias: np.ndarray | None
    layer: Layer


@dataclass(slots=True)
class _PendingAffine:
    """A per-channel x * scale + shift not yet emitted (BatchNorm/Scale not after a conv)."""

    name: str
    source: str
    scale: np.ndarray
    shift: np.ndarray


class _GraphBuilder:
    def __init__(self, net: cv2.dnn.Net) -> None:
        self.net = net
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.tensors: dict[str, str] = {}  # Caffe blob -> ONNX tensor holding its current value
        self.pending: dict[str, _PendingConv | _PendingAffine] = {}
        self.numpy_blobs: set[str] = set()

    def blobs(self, layer: Layer) -> list[np.ndarray]:
        lid = self.net.getLayerId(layer.name)
        return [np.asarray(blob, dtype=np.float64) for blob in self.net.getLayer(lid).blobs]

    def constant(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def channel_constant(self, name: str, values: np.ndarray) -> str:
        return self.constant(name, values.astype(np.float32).reshape(1, -1, 1, 1))

    def node(self, op: str, inputs: list[str], output: str, **attributes: Any) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attributes))
        return output

    def read(self, blob: str) -> str:
        """The ONNX tensor of a blob, emitting any convolution or affine still pending on it."""
        pending = self.pending.pop(blob, None)
        if isinstance(pending, _PendingConv):
            geometry = window(pending.layer)
            group = int(first(pending.layer.param("convolution_param"), "group", 1))
            inputs = [
                pending.source,
                self.constant(f"{pending.name}_W", pending.weights.astype(np.float32)),
            ]
            if pending.bias is not None:
                inputs.append(self.constant(f"{pending.name}_B", pending.bias.astype(np.float32)))
            self.tensors[blob] = self.node(
                "Conv",
                inputs,
                pending.name,
                kernel_shape=[geometry.kernel] * 2,
                strides=[geometry.stride] * 2,
                pads=[geometry.pad] * 4,
                dilations=[geometry.dilation] * 2,
                group=group,
            )
        elif isinstance(pending, _PendingAffine):
            scaled = self.node(
                "Mul",
                [pending.source, self.channel_constant(f"{pending.name}_scale", pending.scale)],
                f"{pending.name}_mul",
            )
            self.tensors[blob] = self.node(
                "Add",
                [scaled, self.channel_constant(f"{pending.name}_shift", pending.shift)],
                pending.name,
            )
        return self.tensors[blob]

    def affine(self, layer: Layer, scale: np.ndarray, shift: np.ndarray) -> None:
        """Apply x * scale + shift per channel: folded into a pending conv or affine when the
        layer works in place on it, else started as a new pending affine."""
        (bottom,), (top,) = layer.bottoms, layer.tops
        pending = self.pending.get(bottom) if layer.in_place else None
        if isinstance(pending, _PendingConv):
            pending.weights = pending.weights * scale.reshape(-1, 1, 1, 1)
            bias = pending.bias if pending.bias is not None else np.zeros_like(scale)
            pending.bias = bias * scale + shift
        elif isinstance(pending, _PendingAffine):
            pending.scale, pending.shift = pending.scale * scale, pending.shift * scale + shift
        else:
            self.pending[top] = _PendingAffine(layer.name, self.read(bottom), scale, shift)

    def add(self, layer: Layer) -> None:
        if layer.type in _NUMPY_LAYERS or self.numpy_blobs.intersection(layer.bottoms):
            self.numpy_blobs.update(layer.tops)
            return
        handler = getattr(self, f"_{layer.type.lower()}", None)
        if handler is None:
            raise NotImplementedError(f"{layer.name}: Caffe layer type {layer.type} not supported")
        handler(layer)

    def _output_name(self, layer: Layer) -> str:
        # In-place layers take the layer's name; others the blob's, so heads keep Caffe's names.
        return layer.name if layer.in_place else layer.tops[0]

    def _simple(self, layer: Layer, op: str, **attributes: Any) -> None:
        inputs = [self.read(bottom) for bottom in layer.bottoms]
        self.tensors[layer.tops[0]] = self.node(op, inputs, self._output_name(layer), **attributes)

    def _convolution(self, layer: Layer) -> None:
        weights, *bias = self.blobs(layer)
        self.pending[layer.tops[0]] = _PendingConv(
            layer.name,
            self.read(layer.bottoms[0]),
            weights,
            bias[0].ravel() if bias else None,
            layer,
        )

    def _batchnorm(self, layer: Layer) -> None:
        mean, variance, factor = self.blobs(layer)
        # Caffe stores running sums; blob 2 is the factor they are divided by.
        divisor = 1.0 / factor.item() if factor.item() != 0 else 0.0
        eps = float(first(layer.param("batch_norm_param"), "eps", BATCH_NORM_EPS))
        scale = 1.0 / np.sqrt(variance.ravel() * divisor + eps)
        self.affine(layer, scale, -mean.ravel() * divisor * scale)

    def _scale(self, layer: Layer) -> None:
        gamma, *beta = self.blobs(layer)
        self.affine(layer, gamma.ravel(), beta[0].ravel() if beta else np.zeros(gamma.size))

    def _relu(self, layer: Layer) -> None:
        if first(layer.param("relu_param"), "negative_slope", 0):
            raise NotImplementedError(f"{layer.name}: leaky ReLU not supported")
        self._simple(layer, "Relu")

    def _pooling(self, layer: Layer) -> None:
        block = layer.param("pooling_param")
        geometry = window(layer)
        if first(block, "pool", "MAX") != "MAX" or geometry.pad:
            raise NotImplementedError(f"{layer.name}: only unpadded max pooling is supported")
        # Caffe rounds pooled sizes up; without padding that is exactly ONNX's ceil_mode.
        self._simple(
            layer,
            "MaxPool",
            kernel_shape=[geometry.kernel] * 2,
            strides=[geometry.stride] * 2,
            ceil_mode=1,
        )

    def _eltwise(self, layer: Layer) -> None:
        block = layer.param("eltwise_param")
        if first(block, "operation", "SUM") != "SUM" or "coeff" in block:
            raise NotImplementedError(f"{layer.name}: only plain Eltwise SUM is supported")
        inputs = [self.read(bottom) for bottom in layer.bottoms]
        total = inputs[0]
        for index, term in enumerate(inputs[1:], start=1):
            last = index == len(inputs) - 1
            name = self._output_name(layer) if last else f"{layer.name}_{index}"
            total = self.node("Add", [total, term], name)
        self.tensors[layer.tops[0]] = total

    def _normalize(self, layer: Layer) -> None:
        block = layer.param("norm_param")
        if first(block, "across_spatial", True) or first(block, "channel_shared", True):
            raise NotImplementedError(f"{layer.name}: only per-location, per-channel Normalize")
        (scale,) = self.blobs(layer)
        eps = float(first(block, "eps", NORMALIZE_EPS))
        source = self.read(layer.bottoms[0])
        # SSD's Normalize: x / sqrt(sum_c x^2 + eps) * scale_c (eps inside the root, so an
        # all-zero location after ReLU gives 0, not NaN as ReduceL2 then Div would).
        squares = self.node(
            "ReduceSumSquare", [source], f"{layer.name}_sumsq", axes=[1], keepdims=1
        )
        eps_name = self.constant(f"{layer.name}_eps", np.array(eps, dtype=np.float32))
        norm = self.node(
            "Sqrt",
            [self.node("Add", [squares, eps_name], f"{layer.name}_plus_eps")],
            f"{layer.name}_norm",
        )
        unit = self.node("Div", [source, norm], f"{layer.name}_unit")
        self.tensors[layer.tops[0]] = self.node(
            "Mul",
            [unit, self.channel_constant(f"{layer.name}_scale", scale.ravel())],
            self._output_name(layer),
        )

    def _permute(self, layer: Layer) -> None:
        order = [int(axis) for axis in layer.param("permute_param")["order"]]
        self._simple(layer, "Transpose", perm=order)

    def _flatten(self, layer: Layer) -> None:
        self._simple(layer, "Flatten", axis=int(first(layer.param("flatten_param"), "axis", 1)))

    def _concat(self, layer: Layer) -> None:
        self._simple(layer, "Concat", axis=int(first(layer.param("concat_param"), "axis", 1)))

    def _reshape(self, layer: Layer) -> None:
        dims = np.array(first(layer.param("reshape_param"), "shape")["dim"], dtype=np.int64)
        shape = self.constant(f"{layer.name}_shape", dims)
        self.tensors[layer.tops[0]] = self.node(
            "Reshape", [self.read(layer.bottoms[0]), shape], self._output_name(layer)
        )

    def _softmax(self, layer: Layer) -> None:
        self._simple(layer, "Softmax", axis=int(first(layer.param("softmax_param"), "axis", 1)))


def convert_res10(prototxt: Path, caffemodel: Path) -> bytes:
    """The ONNX model (serialised) of a Caffe SSD's body and heads, input N x 3 x H x W."""
    deploy = read_deploy(prototxt.read_text())
    builder = _GraphBuilder(cv2.dnn.readNetFromCaffe(str(prototxt), str(caffemodel)))
    builder.tensors[deploy.input_name] = deploy.input_name
    for layer in deploy.layers:
        builder.add(layer)
    loc, conf = head_blobs(deploy)
    outputs = [
        helper.make_tensor_value_info(builder.read(blob), TensorProto.FLOAT, ["N", blob])
        for blob in (loc, conf)
    ]
    channels = deploy.input_shape[1]
    graph = helper.make_graph(
        builder.nodes,
        "res10_ssd",
        [
            helper.make_tensor_value_info(
                deploy.input_name, TensorProto.FLOAT, ["N", channels, "H", "W"]
            )
        ],
        outputs,
        initializer=builder.initializers,
    )
    sources = ", ".join(
        f"{path.name} sha256 {hashlib.sha256(path.read_bytes()).hexdigest()}"
        for path in (prototxt, caffemodel)
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
        producer_name="readface",
        producer_version="1",
        doc_string=f"Body and heads of a Caffe SSD; from {sources}.",
    )
    onnx.checker.check_model(model)
    return model.SerializeToString(deterministic=True)
