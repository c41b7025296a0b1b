"""Structured JSON logs, one object per line on stderr.

Only identifiers and measurements are ever passed as fields (reference ids, app ids, states,
HTTP statuses, byte counts, durations); card fields, images and exception messages that might
quote them are never logged. Call sites pass fields explicitly: ``log.info("job_done", ref=...)``.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

LOGGER_NAME = "ktp.extractor"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "event": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info and record.exc_info[0] is not None:
            # The exception type only: messages and tracebacks can quote request data.
            entry["exception"] = record.exc_info[0].__name__
        return json.dumps(entry, default=str)


class EventLogger:
    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger

    def _log(self, level: int, event: str, exc_info: bool, fields: dict[str, Any]) -> None:
        if self._logger.isEnabledFor(level):
            self._logger.log(level, event, exc_info=exc_info, extra={"fields": fields})

    def info(self, event: str, **fields: Any) -> None:
        self._log(logging.INFO, event, False, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._log(logging.WARNING, event, False, fields)

    def error(self, event: str, exc_info: bool = False, **fields: Any) -> None:
        self._log(logging.ERROR, event, exc_info, fields)


def get_logger() -> EventLogger:
    return EventLogger(logging.getLogger(LOGGER_NAME))


def configure(level: str = "INFO") -> None:
    """Route our logger and uvicorn's to one JSON handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    for name in (LOGGER_NAME, "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False
    # Uvicorn's access log prints full query strings; we log requests ourselves.
    logging.getLogger("uvicorn.access").disabled = True
