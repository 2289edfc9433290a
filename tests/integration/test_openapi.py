"""/openapi.json is valid OpenAPI 3.1 and describes exactly the routes the app serves."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from api import create_app
from harness.service import Api
from shared.imageinfo import MEDIA_TYPES

pytestmark = pytest.mark.integration


def test_openapi_document_is_valid(api: Api) -> None:
    document = api.get("/openapi.json").json()
    validate(document)
    assert document["openapi"].startswith("3.1")


def test_openapi_paths_match_the_routes() -> None:
    app = create_app()
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<[^>]+>", "{id}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            served.add((path, method.lower()))
    document = app.test_client().get("/openapi.json").get_json()
    described = {(path, method) for path, ops in document["paths"].items() for method in ops}
    assert described == served


def test_openapi_raw_upload_types_are_the_recognised_formats(api: Api) -> None:
    body = api.get("/openapi.json").json()["paths"]["/v1/analyses"]["post"]["requestBody"]
    assert set(body["content"]) == {"multipart/form-data", *MEDIA_TYPES.values()}
    form = body["content"]["multipart/form-data"]["schema"]
    assert form["required"] == ["image"]
    assert set(form["properties"]) == {"image", "callback_url"}


def test_openapi_states_the_configured_upload_limit(strict_api: Api) -> None:
    post = strict_api.get("/openapi.json").json()["paths"]["/v1/analyses"]["post"]
    assert "200,000 bytes" in post["requestBody"]["description"]
    assert "200,000 bytes" in post["responses"]["413"]["description"]
