"""Job event lines (shared/logs.py): JSON by default, plain text when asked, the id and the
tenant in both."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from shared.logs import LOGGER_NAME, configure_logging, log_job_event
from shared.settings import Settings

ANALYSIS_ID = "ab" * 32


@pytest.fixture(autouse=True)
def readface_logger() -> Iterator[logging.Logger]:
    """The readface logger as it was before the test configured it."""
    logger = logging.getLogger(LOGGER_NAME)
    handlers, level, propagate = logger.handlers[:], logger.level, logger.propagate
    yield logger
    logger.handlers, logger.propagate = handlers, propagate
    logger.setLevel(level)


def test_the_default_format_is_json() -> None:
    assert Settings().log_format == "json"


def test_a_json_line_carries_the_event_id_tenant_and_details(
    capfd: pytest.CaptureFixture[str],
) -> None:
    configure_logging("json")
    log_job_event(
        logging.getLogger("readface.worker"), "started", ANALYSIS_ID, "alice", {"attempt": 1}
    )
    [line] = capfd.readouterr().err.splitlines()
    entry = json.loads(line)
    assert entry["event"] == "started" and entry["level"] == "info"
    assert entry["analysis_id"] == ANALYSIS_ID and entry["tenant"] == "alice"
    assert entry["attempt"] == 1 and entry["logger"] == "readface.worker"
    assert entry["time"].endswith("Z")


def test_without_api_keys_the_tenant_is_null(capfd: pytest.CaptureFixture[str]) -> None:
    configure_logging("json")
    log_job_event(logging.getLogger("readface.api"), "received", ANALYSIS_ID, "")
    assert json.loads(capfd.readouterr().err)["tenant"] is None


def test_text_lines_carry_the_same_fields_for_a_person(capfd: pytest.CaptureFixture[str]) -> None:
    configure_logging("text")
    log_job_event(
        logging.getLogger("readface.worker"),
        "failed",
        ANALYSIS_ID,
        "bob",
        {"error_code": "timeout"},
        logging.WARNING,
    )
    [line] = capfd.readouterr().err.splitlines()
    assert not line.startswith("{")
    assert " WARNING readface.worker failed " in line
    assert f"analysis_id={ANALYSIS_ID}" in line and "tenant=bob" in line
    assert "error_code=timeout" in line


def test_configuring_twice_prints_each_line_once(capfd: pytest.CaptureFixture[str]) -> None:
    configure_logging("text")
    configure_logging("json")
    log_job_event(logging.getLogger("readface.api"), "received", ANALYSIS_ID, "alice")
    assert len(capfd.readouterr().err.splitlines()) == 1


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="READFACE_LOG_FORMAT"):
        configure_logging("xml")
