"""JSON Schemas of the contract's objects, taken from the API's own OpenAPI document, so the
pipeline, the service and the document are checked against one definition."""

from __future__ import annotations

from typing import Any

from api.openapi import openapi_document


def component_schema(name: str) -> dict[str, Any]:
    """One component schema, with the components alongside so its $refs resolve."""
    document = openapi_document()
    return {**document["components"]["schemas"][name], "components": document["components"]}
