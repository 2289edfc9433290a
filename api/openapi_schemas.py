"""The schemas of the OpenAPI document: the objects the API answers with. Their enums come from
the code that writes the values (shared/job_states.py, shared/result_values.py)."""

from __future__ import annotations

from typing import Any

from shared.imageinfo import MEDIA_TYPES
from shared.job_states import FailureCode, JobStatus
from shared.result_values import (
    AGE_BUCKETS,
    ENGINES,
    EXPRESSIONS,
    PRECISIONS,
    Gender,
    bucket_label,
)

_CONFIDENCE = {"type": "number", "minimum": 0, "maximum": 1}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            }
        },
    },
    "Face": {
        "type": "object",
        "required": ["box", "score", "gender", "age"],
        "properties": {
            "box": {
                "type": "object",
                "required": ["x", "y", "width", "height"],
                "properties": {
                    k: {"type": "integer", "minimum": 0} for k in ("x", "y", "width", "height")
                },
            },
            "score": _CONFIDENCE,
            "gender": {
                "type": "object",
                "required": ["label", "confidence"],
                "properties": {"label": {"enum": list(Gender)}, "confidence": _CONFIDENCE},
            },
            "age": {
                "type": "object",
                "required": ["years", "range", "confidence"],
                "properties": {
                    "years": {"type": "number", "minimum": 0},
                    "range": {
                        "type": "string",
                        "pattern": "^[0-9]{1,3}-[0-9]{1,3}$",
                        "description": (
                            "Packs that estimate years: the shortest span of whole years that "
                            "holds `years` and at least 80% of the calibrated age distribution "
                            "(`confidence` is the mass inside it). Levi-Hassner: the most likely "
                            f"of the buckets {', '.join(map(bucket_label, AGE_BUCKETS))}."
                        ),
                    },
                    "confidence": _CONFIDENCE,
                },
            },
            "expression": {
                "type": "object",
                "description": (
                    "Present for packs with an expression network (the default pack), unless "
                    "the deployment leaves it out (READFACE_ATTRIBUTES=gender,age); never null. "
                    "`label` is the likeliest class, `confidence` its probability, `scores` "
                    "every class's (they sum to 1)."
                ),
                "required": ["label", "confidence", "scores"],
                "properties": {
                    "label": {"enum": list(EXPRESSIONS)},
                    "confidence": _CONFIDENCE,
                    "scores": {
                        "type": "object",
                        "required": list(EXPRESSIONS),
                        "properties": {name: _CONFIDENCE for name in EXPRESSIONS},
                        "additionalProperties": False,
                    },
                },
            },
        },
    },
    "Result": {
        "type": "object",
        "required": ["image", "faces", "model", "timings_ms"],
        "properties": {
            "image": {
                "type": "object",
                "required": ["width", "height", "format"],
                "properties": {
                    "width": {"type": "integer", "minimum": 1},
                    "height": {"type": "integer", "minimum": 1},
                    "format": {"enum": list(MEDIA_TYPES)},
                },
            },
            "faces": {"type": "array", "items": {"$ref": "#/components/schemas/Face"}},
            "model": {
                "type": "object",
                "required": ["pack", "version"],
                "properties": {
                    "pack": {"type": "string"},
                    "version": {"type": "string"},
                    "engine": {"enum": list(ENGINES)},
                    "precision": {"enum": list(PRECISIONS)},
                },
            },
            "timings_ms": {
                "type": "object",
                "required": ["decode", "detect", "classify", "annotate", "total"],
                "additionalProperties": {"type": "number", "minimum": 0},
            },
        },
    },
    "Analysis": {
        "type": "object",
        "required": ["id", "status", "created_at", "finished_at", "links", "error", "result"],
        "properties": {
            "id": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "status": {"enum": list(JobStatus)},
            "created_at": {"type": "string", "format": "date-time"},
            "finished_at": {"type": ["string", "null"], "format": "date-time"},
            "links": {
                "type": "object",
                "required": ["self", "annotated"],
                "properties": {"self": {"type": "string"}, "annotated": {"type": "string"}},
            },
            "error": {
                "oneOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "required": ["code", "message"],
                        "properties": {
                            "code": {"enum": list(FailureCode)},
                            "message": {"type": "string"},
                        },
                    },
                ]
            },
            "result": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Result"}]},
        },
    },
}
