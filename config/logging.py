"""Structured logs: one JSON object a line, with the ids that tie a line to a conversation.

Code logs with `extra={"conversation_id": ..., "message_id": ...}`; those keys (and any other extra
field of plain JSON type) become fields of the line, so `jq 'select(.conversation_id == 42)'` follows
one conversation across every daphne process and Celery worker.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

_STANDARD = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "process": record.process,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and isinstance(value, str | int | float | bool):
                line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class RefusalsOneLine(logging.Filter):
    """A refused request is one line. Django logs a 403 (PermissionDenied: a user without the role opened
    a page) at WARNING with the whole traceback of the raise; that is a person at the wrong door, not a
    fault, so the line keeps its message ("Forbidden (Permission denied): /agent/") and drops the
    traceback. Errors (5xx) keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.levelno < logging.ERROR and getattr(record, "status_code", None) == 403:
            record.exc_info = None
            record.exc_text = None
        return True
