"""The OpenAPI 3.1 document of what this API serves (tests check it against the routes)."""

from __future__ import annotations

from typing import Any

from api.openapi_schemas import SCHEMAS
from shared.callbacks.addresses import MAX_URL_LENGTH
from shared.imageinfo import MEDIA_TYPES
from shared.settings import Settings

_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
}
# gunicorn's --limit-request-line in scripts/api-entrypoint.sh (its maximum): room for a
# callback_url of MAX_URL_LENGTH ASCII characters even when every one is percent-encoded.
MAX_REQUEST_LINE_BYTES = 8190


_BINARY = {"type": "string", "format": "binary"}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
}


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if headers:
        response["headers"] = headers
    return response


def _analysis(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Analysis"}}},
    }


# What every /v1 operation can answer besides its own outcomes.
_V1_ERRORS = {
    "400": _error("Malformed id, query parameter or query string (bad_request)"),
    "401": _error("API keys are enabled and none or a wrong one was given (unauthorized)"),
    "414": _error(f"Request line over {MAX_REQUEST_LINE_BYTES:,} bytes (uri_too_long)"),
    "431": _error("Request headers too large (headers_too_large)"),
    "429": _error("Too many requests from this client (rate_limited)", _RETRY_AFTER),
    "503": _error(
        "Redis, the broker or the blob store is down, or the blob store is full (unavailable)",
        _RETRY_AFTER,
    ),
}
_STATUS = {
    "type": "object",
    "required": ["status"],
    "properties": {"status": {"type": "string"}},
}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


# Where a submitted analysis can be read, fetched and deleted (clients and stateful testers).
_LINKS = {
    name: {"operationId": operation, "parameters": {"id": "$response.body#/id"}}
    for name, operation in (
        ("GetAnalysis", "getAnalysis"),
        ("GetAnnotated", "getAnnotated"),
        ("DeleteAnalysis", "deleteAnalysis"),
    )
}


def _submit(max_upload_bytes: int) -> dict[str, Any]:
    """POST /v1/analyses: the two encodings the upload reader accepts (api/uploads.py)."""
    limit = f"at most {max_upload_bytes:,} bytes (READFACE_MAX_UPLOAD_BYTES)"
    media_types = sorted(set(MEDIA_TYPES.values()))
    # Not "format: uri": the API takes any absolute http(s) URL a client library would send
    # (shared/callbacks/addresses.py), refuses others with 422, and reads an empty value as none.
    callback_url = {"type": "string", "maxLength": MAX_URL_LENGTH}
    return {
        "summary": "Submit an image (multipart field `image`, or raw image bytes)",
        "operationId": "submitAnalysis",
        "parameters": [
            {
                "name": "callback_url",
                "in": "query",
                "required": False,
                "description": "Absolute http(s) URL the finished analysis is POSTed to, "
                "with either encoding (a multipart form may give it as a field instead; if both, "
                "they must be equal); empty means none",
                "schema": callback_url,
            }
        ],
        "requestBody": {
            "required": True,
            "description": f"The image, {limit}; its type is told by its magic bytes.",
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["image"],
                        "properties": {"image": _BINARY, "callback_url": callback_url},
                    }
                },
                **{media_type: {"schema": _BINARY} for media_type in media_types},
            },
        },
        "responses": {
            "200": {
                **_analysis("Already analysed by the current model pack (dedup hit)"),
                "links": _LINKS,
            },
            "202": {
                **_analysis("Enqueued, or already in flight"),
                "links": _LINKS,
                "headers": {
                    "Location": {
                        "description": "The analysis: /v1/analyses/{id}",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                },
            },
            **_V1_ERRORS,
            "400": _error("No image, empty body, malformed form or query (bad_request)"),
            "413": _error(f"Larger than {limit} (too_large)"),
            "415": _error(
                "Content-Type not multipart/form-data or one of "
                + ", ".join(media_types)
                + ", or the bytes are not such an image (unsupported_media_type)"
            ),
            "422": _error(
                "Undecodable header or over the pixel limit (invalid_image), or a refused "
                "callback URL (invalid_callback)"
            ),
            "429": _error(
                "Too many requests, or too many upload bytes waiting for analysis, from this "
                "client (rate_limited)",
                _RETRY_AFTER,
            ),
        },
    }


def openapi_document(settings: Settings | None = None) -> dict[str, Any]:
    """The whole document for these settings (default: the defaults); built on request so it
    can never drift from a cached copy."""
    settings = settings or Settings()
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "readface",
            "version": "1.0.0",
            "description": "Faces, gender and age from photos, analysed asynchronously. Every "
            "error is the Error object; a method a path does not serve is 405 with an Allow "
            "header.",
        },
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
        "security": [{}, {"apiKey": []}, {"bearer": []}],
        "paths": {
            "/v1/analyses": {"post": _submit(settings.max_upload_bytes)},
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
                            "description": "Seconds to wait for the analysis to end",
                            "schema": {"type": "number", "minimum": 0, "maximum": 30},
                        },
                    ],
                    "responses": {
                        "200": _analysis("The analysis"),
                        **_V1_ERRORS,
                        "404": _error("Unknown or expired id (not_found)"),
                    },
                },
                "delete": {
                    "summary": "Delete every stored trace of the analysis",
                    "operationId": "deleteAnalysis",
                    "parameters": [_ID],
                    "responses": {
                        "204": {"description": "Deleted"},
                        **_V1_ERRORS,
                        "404": _error("Nothing to delete (not_found)"),
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
                            "content": {"image/jpeg": {"schema": _BINARY}},
                        },
                        **_V1_ERRORS,
                        "404": _error("Unknown or expired id (not_found)"),
                        "409": _error("Not ready yet (not_ready) or the analysis failed (failed)"),
                    },
                }
            },
            "/": {
                "get": {
                    "summary": "The web page",
                    "operationId": "webPage",
                    "security": [{}],
                    "responses": {
                        "200": {"description": "HTML", "content": {"text/html": {"schema": {}}}}
                    },
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Liveness",
                    "operationId": "healthz",
                    "security": [{}],
                    "responses": {"200": _json("Up", _STATUS)},
                }
            },
            "/readyz": {
                "get": {
                    "summary": "Readiness: Redis answers and a worker is alive",
                    "operationId": "readyz",
                    "security": [{}],
                    "responses": {
                        "200": _json("Ready", _STATUS),
                        "503": _error("Not ready, with the reason (unavailable)", _RETRY_AFTER),
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
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        "503": _error("Redis is down (unavailable)", _RETRY_AFTER),
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "operationId": "openapi",
                    "security": [{}],
                    "responses": {"200": _json("OpenAPI 3.1", {"type": "object"})},
                }
            },
        },
    }
