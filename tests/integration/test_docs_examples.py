"""The docs' curl examples, run as written against a real stack (tests/unit/test_docs_commands.py
checks every command statically; these are run): README's ten lines and docs/api.md's reading,
operations and DELETE blocks. Only the address changes, to the test's API."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import time
from pathlib import Path

import cv2
import pytest
from skimage import data

REPO = Path(__file__).resolve().parents[2]
DOCUMENTED_URL = "http://127.0.0.1:8000"

pytestmark = pytest.mark.integration


def sh_block(page: str, heading: str) -> list[str]:
    """The command lines of the first ```sh block after `heading` on a page."""
    text = (REPO / page).read_text()
    block = re.search(re.escape(heading) + r".*?```sh\n(.*?)```", text, re.S)
    assert block, f"{page}: no sh block after {heading!r}"
    joined = block.group(1).replace("\\\n", " ")
    return [line for line in joined.splitlines() if line.strip() and not line.startswith("#")]


def run(command: str, url: str, cwd: Path, analysis_id: str = "") -> str:
    done = subprocess.run(
        ["bash", "-c", command.replace(DOCUMENTED_URL, url)],
        cwd=cwd,
        env={**os.environ, "ID": analysis_id},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def test_readme_and_api_page_examples_work_as_written(api, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    assert ok
    (tmp_path / "photo.jpg").write_bytes(jpeg.tobytes())
    expected_id = hashlib.sha256(jpeg.tobytes()).hexdigest()

    submit, read, annotated = sh_block("README.md", "## The API in ten lines")
    accepted = json.loads(run(submit, api.url, tmp_path))
    assert accepted["id"] == expected_id
    deadline = time.monotonic() + 120
    while (answer := json.loads(run(read, api.url, tmp_path, expected_id)))["status"] in (
        "queued",
        "running",
    ):
        assert time.monotonic() < deadline, answer
    assert answer["status"] == "succeeded" and answer["result"]["faces"]
    run(annotated, api.url, tmp_path, expected_id)
    assert (tmp_path / "annotated.jpg").read_bytes()[:3] == b"\xff\xd8\xff"

    for line in sh_block("docs/api.md", "### `GET /v1/analyses/{id}`"):
        assert json.loads(run(line, api.url, tmp_path, expected_id))["status"] == "succeeded"
    (tmp_path / "annotated.jpg").unlink()
    for line in sh_block("docs/api.md", "### `GET /v1/analyses/{id}/annotated`"):
        run(line, api.url, tmp_path, expected_id)
    assert (tmp_path / "annotated.jpg").read_bytes()[:3] == b"\xff\xd8\xff"
    healthz, readyz, metrics, openapi = sh_block("docs/api.md", "### Operations")
    assert json.loads(run(healthz, api.url, tmp_path)) == {"status": "ok"}
    assert json.loads(run(readyz, api.url, tmp_path))["status"] == "ready"
    assert "readface_queue_depth" in run(metrics, api.url, tmp_path)
    assert json.loads(run(openapi, api.url, tmp_path))["openapi"].startswith("3.1")
    (delete,) = sh_block("docs/api.md", "### `DELETE /v1/analyses/{id}`")
    assert run(delete, api.url, tmp_path, expected_id).startswith("HTTP/1.1 204")
