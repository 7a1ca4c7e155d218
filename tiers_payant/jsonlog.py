"""JSON log lines shared by every process: one object per line, NIRs masked.

Kept apart from tiers_payant.httpkit (which re-exports it) so that a process that serves
no HTTP itself, like the platform's supervisor and its fault proxy, logs without
importing Flask: each import it avoids is resident memory it does not hold.
"""
from __future__ import annotations

import json
import logging
import re
import sys
from typing import Any


# A NIR anywhere in a line (15 characters, Corsica's 2A/2B included), delimited so that
# longer digit runs (timestamps, ids) are left alone.
_NIR_LIKE = re.compile(r"(?<![0-9A-Za-z])[1278][0-9]{4}(?:[0-9]{2}|2[ABab])[0-9]{8}(?![0-9A-Za-z])")


def redact(line: str) -> str:
    """Last line of defence: callers log pseudonyms, but an exception message or a library's
    log line may carry a body's NIR; it leaves masked like `mask_nir`."""
    return _NIR_LIKE.sub(lambda m: m.group(0)[0] + "*" * 14, line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line. Callers pass only pseudonymised identifiers in `extra`."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"ts": round(record.created, 3), "level": record.levelname.lower(),
                               "logger": record.name, "event": record.getMessage()}
        out.update(getattr(record, "fields", {}))
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info).splitlines()[-1]
        return redact(json.dumps(out, default=str))


def setup_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    if any(getattr(h, "_tp_json", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler._tp_json = True  # type: ignore[attr-defined]
    root.handlers = [handler]
    root.setLevel(level)


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    logger.log(level, event, extra={"fields": fields})
