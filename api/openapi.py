"""The OpenAPI 3.1 document of what this API serves (tests check it against the routes)."""

from __future__ import annotations

from typing import Any

_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
}
_CONFIDENCE = {"type": "number", "minimum": 0, "maximum": 1}
_BUCKETS = ["0-2", "4-6", "8-12", "15-20", "25-32", "38-43", "48-53", "60-100"]


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _analysis(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Analysis"}}},
    }


_SCHEMAS: dict[str, Any] = {
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
                "properties": {"label": {"enum": ["female", "male"]}, "confidence": _CONFIDENCE},
            },
            "age": {
                "type": "object",
                "required": ["years", "range", "confidence"],
                "properties": {
                    "years": {"type": "number", "minimum": 0},
                    "range": {"enum": _BUCKETS},
                    "confidence": _CONFIDENCE,
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
                    "format": {"enum": ["jpeg", "png", "webp", "bmp"]},
                },
            },
            "faces": {"type": "array", "items": {"$ref": "#/components/schemas/Face"}},
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
    },
    "Analysis": {
        "type": "object",
        "required": ["id", "status", "created_at", "finished_at", "links", "error", "result"],
        "properties": {
            "id": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "status": {"enum": ["queued", "running", "succeeded", "failed"]},
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
                            "code": {"enum": ["invalid_image", "timeout", "internal"]},
                            "message": {"type": "string"},
                        },
                    },
                ]
            },
            "result": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Result"}]},
        },
    },
}

_UPLOAD_ERRORS = {
    "400": _error("No image, empty body or malformed form (bad_request)"),
    "401": _error("API keys are enabled and none or a wrong one was given (unauthorized)"),
    "413": _error("Over READFACE_MAX_UPLOAD_BYTES (too_large)"),
    "415": _error("Not JPEG/PNG/WebP/BMP by magic bytes (unsupported_media_type)"),
    "422": _error(
        "Undecodable header or over the pixel limit (invalid_image), or a refused "
        "callback URL (invalid_callback)"
    ),
    "429": _error("Too many requests from this client (rate_limited)"),
    "503": _error("Redis or the broker is down (unavailable); see Retry-After"),
}


def openapi_document() -> dict[str, Any]:
    """The whole document; built on request so it can never drift from a cached copy."""
    binary = {"type": "string", "format": "binary"}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "readface",
            "version": "1.0.0",
            "description": "Faces, gender and age from photos, analysed asynchronously.",
        },
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
        },
        "security": [{}, {"apiKey": []}],
        "paths": {
            "/v1/analyses": {
                "post": {
                    "summary": "Submit an image (multipart field `image`, or raw image bytes)",
                    "operationId": "submitAnalysis",
                    "parameters": [
                        {
                            "name": "callback_url",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "format": "uri"},
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "multipart/form-data": {
                                "schema": {
                                    "type": "object",
                                    "required": ["image"],
                                    "properties": {
                                        "image": binary,
                                        "callback_url": {"type": "string", "format": "uri"},
                                    },
                                }
                            },
                            "image/jpeg": {"schema": binary},
                            "image/png": {"schema": binary},
                            "image/webp": {"schema": binary},
                            "image/bmp": {"schema": binary},
                        },
                    },
                    "responses": {
                        "200": _analysis("Already analysed by the current model pack (dedup hit)"),
                        "202": {
                            **_analysis("Enqueued, or already in flight"),
                            "headers": {"Location": {"schema": {"type": "string"}}},
                        },
                        **_UPLOAD_ERRORS,
                    },
                }
            },
            "/v1/analyses/{id}": {
                "get": {
                    "summary": "The analysis; `wait` long-polls until it ends",
                    "operationId": "getAnalysis",
                    "parameters": [
                        _ID,
                        {
                            "name": "wait",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "number", "minimum": 0, "maximum": 30},
                        },
                    ],
                    "responses": {
                        "200": _analysis("The analysis"),
                        "400": _error("Malformed id or wait"),
                        "401": _error("Unauthorized"),
                        "404": _error("Unknown or expired id"),
                        "429": _error("Rate limited"),
                        "503": _error("Unavailable"),
                    },
                },
                "delete": {
                    "summary": "Delete every stored trace of the analysis",
                    "operationId": "deleteAnalysis",
                    "parameters": [_ID],
                    "responses": {
                        "204": {"description": "Deleted"},
                        "400": _error("Malformed id"),
                        "401": _error("Unauthorized"),
                        "404": _error("Nothing to delete"),
                        "429": _error("Rate limited"),
                        "503": _error("Unavailable"),
                    },
                },
            },
            "/v1/analyses/{id}/annotated": {
                "get": {
                    "summary": "The annotated JPEG",
                    "operationId": "getAnnotated",
                    "parameters": [_ID],
                    "responses": {
                        "200": {
                            "description": "JPEG",
                            "content": {"image/jpeg": {"schema": binary}},
                        },
                        "400": _error("Malformed id"),
                        "401": _error("Unauthorized"),
                        "404": _error("Unknown id"),
                        "409": _error("Not ready yet (not_ready) or the analysis failed (failed)"),
                        "429": _error("Rate limited"),
                        "503": _error("Unavailable"),
                    },
                }
            },
            "/": {
                "get": {
                    "summary": "The web page",
                    "operationId": "webPage",
                    "security": [{}],
                    "responses": {"200": {"description": "HTML", "content": {"text/html": {}}}},
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Liveness",
                    "operationId": "healthz",
                    "security": [{}],
                    "responses": {"200": {"description": "Up"}},
                }
            },
            "/readyz": {
                "get": {
                    "summary": "Readiness: Redis answers and a worker is alive",
                    "operationId": "readyz",
                    "security": [{}],
                    "responses": {
                        "200": {"description": "Ready"},
                        "503": _error("Not ready, with the reason"),
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "operationId": "metrics",
                    "security": [{}],
                    "responses": {
                        "200": {
                            "description": "Prometheus text format",
                            "content": {"text/plain": {}},
                        }
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "operationId": "openapi",
                    "security": [{}],
                    "responses": {"200": {"description": "OpenAPI 3.1"}},
                }
            },
        },
    }
