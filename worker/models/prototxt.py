"""A reader for Caffe's prototxt (protobuf text format), enough for deploy files; no caffe package.

A message is a dict from field name to the list of its values (protobuf fields may repeat); a
value is a number, a string (enums and quoted strings alike), a bool, or a nested message.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

Message = dict[str, list[Any]]

_TOKEN = re.compile(r'#[^\n]*|"(?:[^"\\]|\\.)*"|[{}:]|[^\s{}:"#]+')


def _scalar(token: str) -> Any:
    if token.startswith('"'):
        return token[1:-1]
    if token in ("true", "false"):
        return token == "true"
    for kind in (int, float):
        try:
            return kind(token)
        except ValueError:
            pass
    return token


def parse_prototxt(text: str) -> Message:
    """Parse protobuf text format into nested messages."""
    tokens = [t for t in _TOKEN.findall(text) if not t.startswith("#")]
    stack: list[Message] = [{}]
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token == "}":
            stack.pop()
            index += 1
            continue
        following = tokens[index + 1]
        if following == ":" and tokens[index + 2] != "{":
            stack[-1].setdefault(token, []).append(_scalar(tokens[index + 2]))
            index += 3
            continue
        child: Message = {}
        stack[-1].setdefault(token, []).append(child)
        stack.append(child)
        index += 3 if following == ":" else 2
    if len(stack) != 1:
        raise ValueError("unbalanced braces in prototxt")
    return stack[0]


def first(message: Message, field: str, default: Any = None) -> Any:
    """The field's first value, or default when the field is absent."""
    values = message.get(field)
    return values[0] if values else default


@dataclass(frozen=True, slots=True)
class Layer:
    """One `layer { ... }` block: its name, type, input and output blobs and its parameters."""

    name: str
    type: str
    bottoms: tuple[str, ...]
    tops: tuple[str, ...]
    params: Message

    def param(self, block: str) -> Message:
        """The layer's `<block> { ... }` parameters (e.g. convolution_param), empty if absent."""
        return first(self.params, block, {})

    @property
    def in_place(self) -> bool:
        return self.tops == self.bottoms


@dataclass(frozen=True, slots=True)
class Deploy:
    """A parsed deploy prototxt: the input blob, its declared shape and the layers in order."""

    input_name: str
    input_shape: tuple[int, ...]
    layers: tuple[Layer, ...]


def read_deploy(text: str) -> Deploy:
    """The layers of a deploy prototxt with a top-level `input`/`input_shape` declaration."""
    root = parse_prototxt(text)
    layers = tuple(
        Layer(
            name=first(block, "name"),
            type=first(block, "type"),
            bottoms=tuple(block.get("bottom", [])),
            tops=tuple(block.get("top", [])),
            params=block,
        )
        for block in root.get("layer", [])
    )
    shape = tuple(int(d) for d in first(root, "input_shape", {}).get("dim", []))
    return Deploy(input_name=first(root, "input"), input_shape=shape, layers=layers)


@dataclass(frozen=True, slots=True)
class Window:
    """The square sliding window of a Convolution or Pooling layer."""

    kernel: int
    stride: int
    pad: int
    dilation: int

    def conv_out(self, size: int) -> int:
        return (size + 2 * self.pad - self.dilation * (self.kernel - 1) - 1) // self.stride + 1

    def pool_out(self, size: int) -> int:
        # Caffe pools in ceil mode, and drops a last window that would start inside the padding.
        out = math.ceil((size + 2 * self.pad - self.kernel) / self.stride) + 1
        if self.pad and (out - 1) * self.stride >= size + self.pad:
            out -= 1
        return out


def window(layer: Layer) -> Window:
    """The window of a Convolution or Pooling layer (only the square kernel_size form)."""
    block = layer.param("convolution_param" if layer.type == "Convolution" else "pooling_param")
    if "kernel_h" in block or "kernel_w" in block:
        raise NotImplementedError(f"{layer.name}: rectangular kernels are not supported")
    return Window(
        kernel=int(first(block, "kernel_size")),
        stride=int(first(block, "stride", 1)),
        pad=int(first(block, "pad", 0)),
        dilation=int(first(block, "dilation", 1)),
    )


def spatial_sizes(deploy: Deploy, height: int, width: int) -> dict[str, tuple[int, int]]:
    """Each blob's (height, width) for an input of height x width; other layers keep the size
    of their first input."""
    sizes = {deploy.input_name: (height, width)}
    for layer in deploy.layers:
        h, w = sizes[layer.bottoms[0]]
        if layer.type == "Convolution":
            geometry = window(layer)
            h, w = geometry.conv_out(h), geometry.conv_out(w)
        elif layer.type == "Pooling":
            geometry = window(layer)
            h, w = geometry.pool_out(h), geometry.pool_out(w)
        for top in layer.tops:
            sizes[top] = (h, w)
    return sizes
