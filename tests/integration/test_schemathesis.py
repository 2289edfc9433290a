"""Schemathesis against the live API under gunicorn (real Redis and worker): whatever its OpenAPI
document allows a client to send, the answers are what the document says they are."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.service import Api, analyses_for
from shared.store import Store

pytestmark = pytest.mark.integration

SEED = 20261124
# Fuzzing cases per operation; the coverage phase adds its own deterministic cases (boundaries,
# wrong types, undocumented methods) and the stateful phase follows the document's links.
MAX_EXAMPLES = 25
# Seconds a request may take: past the longest long-poll the document allows (`wait` up to 30 s).
REQUEST_TIMEOUT = 40

CONFIG = f"""
seed = {SEED}
workers = 1
request-timeout = {REQUEST_TIMEOUT}
suppress-health-check = ["too_slow"]

[generation]
max-examples = {MAX_EXAMPLES}

[phases.stateful]
max-steps = 40

[checks]
enabled = true

# gunicorn refuses an over-long request line (414) or header block (431) before the app reads
# it: a rejection like any other 4xx, with the Error body, and documented on every /v1 operation.
[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "414", "415", "422", "428",
                     "429", "431", "5xx"]

# A schema-valid body need not be an image the API accepts: the schema can say "binary with
# Content-Type image/png" but not "a decodable PNG", nor that a multipart form naming a
# callback_url different from the query's is refused. So 400, 415 and 422 are correct answers
# to schema-valid submissions (each is documented with its Error body).
[[operations]]
include-path = "/v1/analyses"
include-method = "POST"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "415", "422", "429"]
"""


@pytest.fixture()
def analyses_cleaned_up(store: Store, redis_url: str) -> Iterator[None]:
    """Delete the analyses the run created (schemathesis makes valid tiny PNGs and WebPs)."""
    before = set(store.scan_keys())
    yield
    analyses = analyses_for(redis_url)
    for key in set(store.scan_keys()) - before:
        analysis_id = key.decode().rsplit(":", 1)[-1]
        if len(analysis_id) == 64:
            analyses.delete(analysis_id)


@pytest.mark.usefixtures("analyses_cleaned_up")
def test_api_conforms_to_its_openapi_document(api: Api, tmp_path: Path) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(config),
            "--no-color",
            "run",
            f"{api.url}/openapi.json",
            "--checks",
            "all",
            # `all` includes a response-time limit, 10 s unless set; but a long-poll answers when
            # its job ends or after its `wait` (up to 30 s, as the document says), which depends
            # on how busy the worker is, not on whether the API is right: the limit is the
            # request timeout, which every answer must beat anyway
            "--max-response-time",
            str(REQUEST_TIMEOUT),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    report = run.stdout[run.stdout.find("FAILURES") :] or run.stdout
    assert run.returncode == 0, report[:30000] + run.stderr[-5000:]
