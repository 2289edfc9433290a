"""readface's own log lines: one line per job event (received, started, succeeded, failed,
retried, skipped, dropped, callback), as JSON or as plain text (READFACE_LOG_FORMAT).

Only the `readface.*` loggers are formatted here; Celery's and gunicorn's own lines keep their
formats. Lines go to the real stderr, not to whatever Celery puts in `sys.stderr` (a worker
redirects it to its logger, which would wrap each JSON line in its own text).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

LOGGER_NAME = "readface"
JSON, TEXT = "json", "text"
LOG_FORMATS = (JSON, TEXT)


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return getattr(record, "fields", {})


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, then the event's fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger message key=value ...`, for a person reading a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        pairs = " ".join(f"{key}={value}" for key, value in _fields(record).items())
        line = f"{_timestamp(record)} {record.levelname} {record.name} {record.getMessage()}"
        line = f"{line} {pairs}" if pairs else line
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


def configure_logging(log_format: str) -> None:
    """Send the readface loggers to stderr in `log_format` (json or text), at INFO; calling it
    again replaces the handler. ValueError on an unknown format."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"READFACE_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}.")
    handler = logging.StreamHandler(sys.__stderr__)
    handler.setFormatter(JsonFormatter() if log_format == JSON else TextFormatter())
    logger = logging.getLogger(LOGGER_NAME)
    logger.handlers = [handler]
    logger.setLevel(logging.INFO)
    # gunicorn's and Celery's root handlers would print each line a second time
    logger.propagate = False


def log_job_event(
    logger: logging.Logger,
    event: str,
    analysis_id: str,
    tenant: str,
    details: Mapping[str, object] | None = None,
    level: int = logging.INFO,
) -> None:
    """One line for one event of an analysis, with its details; tenant "" (no API keys) is
    logged as null."""
    fields = {"event": event, "analysis_id": analysis_id, "tenant": tenant or None}
    logger.log(level, event, extra={"fields": {**fields, **(details or {})}})
