"""TF.js weights, read with numpy: a `*-weights_manifest.json` names each tensor (name, shape,
dtype, optional quantisation) in the order its bytes follow one another across the shard files.

Quantised tensors are dequantised the way TF.js's `io.decodeWeights` does: each stored integer q
becomes q * scale + min, computed in double precision and stored as float32.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

# Bytes per stored value of each storage dtype this reader knows.
_STORED: dict[str, np.dtype[Any]] = {
    "float32": np.dtype("<f4"),
    "int32": np.dtype("<i4"),
    "uint8": np.dtype("u1"),
}
_QUANTISED: dict[str, np.dtype[Any]] = {"uint8": np.dtype("u1"), "uint16": np.dtype("<u2")}


class WeightsFormatError(ValueError):
    """The weights manifest describes something this reader does not handle, or the shards do
    not hold the bytes it describes."""


def _decode(spec: dict[str, Any], data: bytes, offset: int) -> tuple[np.ndarray, int]:
    shape = tuple(int(d) for d in spec["shape"])
    count = int(np.prod(shape, dtype=np.int64))
    quantisation = spec.get("quantization")
    stored: np.dtype[Any] | None
    if quantisation is not None:
        stored = _QUANTISED.get(quantisation["dtype"])
        if stored is None or spec["dtype"] != "float32" or "scale" not in quantisation:
            raise WeightsFormatError(f"{spec['name']}: quantisation {quantisation} not supported")
    else:
        stored = _STORED.get(spec["dtype"])
    if stored is None:
        raise WeightsFormatError(f"{spec['name']}: dtype {spec['dtype']} not supported")
    end = offset + count * stored.itemsize
    if end > len(data):
        raise WeightsFormatError(f"{spec['name']}: the shards end before its {count} values")
    values = np.frombuffer(data, dtype=stored, count=count, offset=offset)
    if quantisation is not None:
        scale, low = float(quantisation["scale"]), float(quantisation["min"])
        values = (values.astype(np.float64) * scale + low).astype(np.float32)
    return values.reshape(shape), end


def read_weights(manifest: Path) -> dict[str, np.ndarray]:
    """Every tensor of a TF.js weights manifest (shards beside it), by name, in float32 (or int32),
    with TF's layouts: conv filters [h, w, in, out], depthwise [h, w, in, multiplier]."""
    weights: dict[str, np.ndarray] = {}
    for group in json.loads(manifest.read_text()):
        data = b"".join((manifest.parent / path).read_bytes() for path in group["paths"])
        offset = 0
        for spec in group["weights"]:
            weights[spec["name"]], offset = _decode(spec, data, offset)
        if offset != len(data):
            raise WeightsFormatError(
                f"{manifest.name}: {len(data) - offset} bytes of {group['paths']} are unused"
            )
    return weights
