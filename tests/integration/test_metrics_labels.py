"""/metrics stays bounded whatever clients send: every label takes values from a fixed set."""

from __future__ import annotations

import random
import string

import pytest

from harness.service import Api

pytestmark = pytest.mark.integration

FLOOD = 300
# Room for the few new series the flood may add ("other" on two endpoints, a status or two);
# one series per made-up method would add ~2 KB each (the latency histogram's buckets).
MAX_GROWTH_BYTES = 20_000


def made_up_methods(count: int) -> list[str]:
    """Distinct method tokens gunicorn lets through (upper-case letters) that HTTP lacks."""
    rng = random.Random(7)
    return ["X" + "".join(rng.choices(string.ascii_uppercase, k=11)) for _ in range(count)]


def request_labels(metrics_text: str) -> set[str]:
    return {
        line.split('method="', 1)[1].split('"', 1)[0]
        for line in metrics_text.splitlines()
        if line.startswith("readface_http_requests_total{")
    }


def test_made_up_methods_do_not_grow_metrics(api: Api) -> None:
    before = len(api.get("/metrics").content)
    methods = made_up_methods(FLOOD)
    for i, method in enumerate(methods):
        # half on a route (405), half on made-up paths (404, endpoint "unmatched")
        path = "/v1/analyses" if i % 2 else f"/made-up/{method.lower()}"
        response = api.session.request(method, api.url + path, timeout=10)
        assert response.status_code in (404, 405)
    text = api.get("/metrics").text
    assert len(text.encode()) - before < MAX_GROWTH_BYTES
    assert not any(method in text for method in methods)
    assert "/made-up/" not in text
    labels = request_labels(text)
    assert "other" in labels
    assert labels <= {"GET", "POST", "DELETE", "HEAD", "OPTIONS", "PUT", "PATCH", "other"}
