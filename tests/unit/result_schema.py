"""JSON Schema of the contract's `result` object (../shared/API.md), for validating outputs."""

from __future__ import annotations

from typing import Any

BUCKETS = ["0-2", "4-6", "8-12", "15-20", "25-32", "38-43", "48-53", "60-100"]
_CONFIDENCE = {"type": "number", "minimum": 0, "maximum": 1}
_INT = {"type": "integer", "minimum": 0}

RESULT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["image", "faces", "model", "timings_ms"],
    "properties": {
        "image": {
            "type": "object",
            "required": ["width", "height", "format"],
            "properties": {
                "width": {"type": "integer", "minimum": 1},
                "height": {"type": "integer", "minimum": 1},
                "format": {"enum": ["jpeg", "png", "webp", "bmp"]},
            },
        },
        "faces": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["box", "score", "gender", "age"],
                "properties": {
                    "box": {
                        "type": "object",
                        "required": ["x", "y", "width", "height"],
                        "properties": {"x": _INT, "y": _INT, "width": _INT, "height": _INT},
                    },
                    "score": _CONFIDENCE,
                    "gender": {
                        "type": "object",
                        "required": ["label", "confidence"],
                        "properties": {
                            "label": {"enum": ["female", "male"]},
                            "confidence": _CONFIDENCE,
                        },
                    },
                    "age": {
                        "type": "object",
                        "required": ["years", "range", "confidence"],
                        "properties": {
                            "years": {"type": "number", "minimum": 0, "maximum": 120},
                            "range": {"enum": BUCKETS},
                            "confidence": _CONFIDENCE,
                        },
                    },
                },
            },
        },
        "model": {
            "type": "object",
            "required": ["pack", "version"],
            "properties": {"pack": {"type": "string"}, "version": {"type": "string"}},
        },
        "timings_ms": {
            "type": "object",
            "required": ["decode", "detect", "classify", "annotate", "total"],
            "additionalProperties": {"type": "number", "minimum": 0},
        },
    },
}
