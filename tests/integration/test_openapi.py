"""/openapi.json is valid OpenAPI 3.1 and describes exactly the routes the app serves."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from api import create_app
from tests.service import Api

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
