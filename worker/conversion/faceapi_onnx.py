"""face-api.js's AgeGenderNet and FaceExpressionNet (TF.js weights) as ONNX, built with the `onnx`
package from the weights read by numpy, following the networks' TF.js code
(@vladmandic/face-api 1.7.15: src/xception/TinyXception.ts, src/ageGenderNet/AgeGenderNet.ts,
src/faceFeatureExtractor/FaceFeatureExtractor.ts and denseBlock.ts, src/faceProcessor/).

Both take a 112x112 RGB face, normalised outside the graph as face-api does: (pixel - mean) / 255.
TF's "SAME" padding is made explicit per layer (it depends on the input size, fixed at 112), and
the graphs' inputs are N x 3 x 112 x 112 (NCHW). Outputs: `age` (N x 1, years) and `gender`
(N x 2, softmax over male, female) for AgeGenderNet; `expression` (N x 7, softmax over neutral,
happy, sad, angry, fearful, disgusted, surprised) for FaceExpressionNet.

Deterministic: the same weights give the same bytes (fixed producer, opset and IR version, no
timestamps, initialisers in the order the graph uses them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from worker.conversion.tfjs_weights import read_weights

OPSET = 13
IR_VERSION = 7
INPUT_SIZE = 112
# face-api.js's normalisation (TinyXception.forwardInput, FaceFeatureExtractor.forwardInput).
FACEAPI_MEAN_RGB = (122.782, 117.001, 104.298)
FACEAPI_SCALE = 1 / 255
# AgeGenderNet's feature extractor: TinyXception(2), two main blocks.
AGE_GENDER_MAIN_BLOCKS = 2


def same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF's SAME padding along one axis (before, after): the output is ceil(size / stride) and the
    odd pixel of padding, if any, goes after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class _Graph:
    """Nodes and initialisers of one network, tracking the spatial size for SAME padding."""

    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        self.weights = weights
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.size: dict[str, int] = {"input": INPUT_SIZE}
        self.used: set[str] = set()

    def weight(self, name: str) -> np.ndarray:
        self.used.add(name)
        return self.weights[name]

    def constant(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(value.astype(np.float32), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, size: int, **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        self.size[output] = size
        return output

    def conv(
        self, x: str, name: str, filters: np.ndarray, bias: np.ndarray | None, stride: int
    ) -> str:
        """TF conv2d with SAME padding; `filters` in ONNX's layout [out, in, h, w]."""
        kernel = filters.shape[2]
        before, after = same_pads(self.size[x], kernel, stride)
        size = -(-self.size[x] // stride)
        inputs = [x, self.constant(f"{name}/W", filters)]
        if bias is not None:
            inputs.append(self.constant(f"{name}/B", bias))
        return self.node(
            "Conv",
            inputs,
            name,
            size,
            kernel_shape=[kernel, kernel],
            strides=[stride, stride],
            pads=[before, before, after, after],
            group=1,
        )

    def conv2d(self, x: str, prefix: str, stride: int) -> str:
        """A plain conv layer with bias: filters [h, w, in, out] -> ONNX [out, in, h, w]."""
        filters = self.weight(f"{prefix}/filters").transpose(3, 2, 0, 1)
        return self.conv(x, prefix, filters, self.weight(f"{prefix}/bias"), stride)

    def separable(self, x: str, prefix: str, stride: int) -> str:
        """TF separableConv2d + bias: a depthwise 3x3 (SAME, stride) then a pointwise 1x1."""
        depthwise = self.weight(f"{prefix}/depthwise_filter")  # [h, w, C, 1]
        kernel, channels = depthwise.shape[0], depthwise.shape[2]
        before, after = same_pads(self.size[x], kernel, stride)
        size = -(-self.size[x] // stride)
        spatial = self.node(
            "Conv",
            [x, self.constant(f"{prefix}/depthwise/W", depthwise.transpose(2, 3, 0, 1))],
            f"{prefix}/depthwise",
            size,
            kernel_shape=[kernel, kernel],
            strides=[stride, stride],
            pads=[before, before, after, after],
            group=channels,
        )
        pointwise = self.weight(f"{prefix}/pointwise_filter").transpose(3, 2, 0, 1)
        return self.conv(spatial, prefix, pointwise, self.weight(f"{prefix}/bias"), 1)

    def relu(self, x: str) -> str:
        return self.node("Relu", [x], f"{x}/relu", self.size[x])

    def add(self, a: str, b: str, name: str) -> str:
        return self.node("Add", [a, b], name, self.size[a])

    def max_pool_same(self, x: str, name: str) -> str:
        """TF maxPool 3x3, stride 2, SAME (padding never wins a max, as in ONNX)."""
        before, after = same_pads(self.size[x], 3, 2)
        return self.node(
            "MaxPool",
            [x],
            name,
            -(-self.size[x] // 2),
            kernel_shape=[3, 3],
            strides=[2, 2],
            pads=[before, before, after, after],
        )

    def pooled_features(self, x: str) -> str:
        """tf.avgPool 7x7, stride 2, VALID on the 7x7 map, flattened to N x C."""
        pooled = self.node(
            "AveragePool", [x], "features/avg_pool", 1, kernel_shape=[7, 7], strides=[2, 2]
        )
        return self.node("Flatten", [pooled], "features", 1, axis=1)

    def dense(self, x: str, prefix: str, output: str) -> str:
        """fullyConnectedLayer: x @ weights [in, out] + bias."""
        inputs = [
            x,
            self.constant(f"{prefix}/weights", self.weight(f"{prefix}/weights")),
            self.constant(f"{prefix}/bias", self.weight(f"{prefix}/bias")),
        ]
        return self.node("Gemm", inputs, output, 1)

    def softmax(self, x: str, output: str) -> str:
        return self.node("Softmax", [x], output, 1, axis=1)


def _reduction_block(g: _Graph, x: str, prefix: str, activate_input: bool) -> str:
    out = g.relu(x) if activate_input else x
    out = g.separable(out, f"{prefix}/separable_conv0", 1)
    out = g.separable(g.relu(out), f"{prefix}/separable_conv1", 1)
    out = g.max_pool_same(out, f"{prefix}/max_pool")
    return g.add(out, g.conv2d(x, f"{prefix}/expansion_conv", 2), f"{prefix}/sum")


def _main_block(g: _Graph, x: str, prefix: str) -> str:
    out = x
    for index in range(3):
        out = g.separable(g.relu(out), f"{prefix}/separable_conv{index}", 1)
    return g.add(out, x, f"{prefix}/sum")


def _age_gender(g: _Graph) -> list[str]:
    out = g.relu(g.conv2d("input", "entry_flow/conv_in", 2))
    out = _reduction_block(g, out, "entry_flow/reduction_block_0", activate_input=False)
    out = _reduction_block(g, out, "entry_flow/reduction_block_1", activate_input=True)
    for index in range(AGE_GENDER_MAIN_BLOCKS):
        out = _main_block(g, out, f"middle_flow/main_block_{index}")
    out = _reduction_block(g, out, "exit_flow/reduction_block", activate_input=True)
    out = g.relu(g.separable(out, "exit_flow/separable_conv", 1))
    features = g.pooled_features(out)
    age = g.dense(features, "fc/age", "age")
    gender = g.softmax(g.dense(features, "fc/gender", "gender/logits"), "gender")
    return [age, gender]


def _dense_block(g: _Graph, x: str, prefix: str, first: bool) -> str:
    """denseBlock4: four convolutions, each fed the ReLU of the sum of those before it."""
    if first:
        out1 = g.relu(g.conv2d(x, f"{prefix}/conv0", 2))
    else:
        out1 = g.relu(g.separable(x, f"{prefix}/conv0", 2))
    out2 = g.separable(out1, f"{prefix}/conv1", 1)
    sum2 = g.add(out1, out2, f"{prefix}/sum2")
    out3 = g.separable(g.relu(sum2), f"{prefix}/conv2", 1)
    # face-api adds as out1 + (out2 + out3); kept in that order so float sums round alike.
    sum3 = g.add(out1, g.add(out2, out3, f"{prefix}/sum23"), f"{prefix}/sum3")
    out4 = g.separable(g.relu(sum3), f"{prefix}/conv3", 1)
    inner = g.add(out3, out4, f"{prefix}/sum34")
    total = g.add(out1, g.add(out2, inner, f"{prefix}/sum234"), f"{prefix}/sum4")
    return g.relu(total)


def _expression(g: _Graph) -> list[str]:
    out = "input"
    for index in range(4):
        out = _dense_block(g, out, f"dense{index}", first=index == 0)
    features = g.pooled_features(out)
    return [g.softmax(g.dense(features, "fc", "expression/logits"), "expression")]


NETWORKS: dict[str, tuple[Callable[[_Graph], list[str]], dict[str, int]]] = {
    "age_gender": (_age_gender, {"age": 1, "gender": 2}),
    "expression": (_expression, {"expression": 7}),
}


def convert_faceapi(network: str, manifest: Path, shards: list[Path]) -> bytes:
    """The ONNX model (serialised) of one face-api network from its weights manifest (the shards
    are the files it names, beside it; listed here so their hashes are recorded)."""
    build, output_sizes = NETWORKS[network]
    graph = _Graph(read_weights(manifest))
    outputs = build(graph)
    unused = sorted(set(graph.weights) - graph.used)
    if unused:
        raise ValueError(f"{manifest.name}: weights the {network} graph does not use: {unused}")
    sources = ", ".join(
        f"{path.name} sha256 {hashlib.sha256(path.read_bytes()).hexdigest()}"
        for path in (manifest, *shards)
    )
    model = helper.make_model(
        helper.make_graph(
            graph.nodes,
            f"faceapi_{network}",
            [
                helper.make_tensor_value_info(
                    "input", TensorProto.FLOAT, ["N", 3, INPUT_SIZE, INPUT_SIZE]
                )
            ],
            [
                helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", output_sizes[name]])
                for name in outputs
            ],
            initializer=graph.initializers,
        ),
        opset_imports=[helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
        producer_name="readface",
        producer_version="1",
        doc_string=f"face-api.js {network} network (TF.js) as ONNX; from {sources}.",
    )
    onnx.checker.check_model(model)
    return model.SerializeToString(deterministic=True)
