"""Structured logging: every process writes one JSON object per line, tagged with its party.

A line written while a request is being served carries its `request_id` (`federation.request_ids`).
Lines go to stderr, or to a file with size-based rotation (`[node] log_file`, `log_max_mb`, `log_backups`;
`XYD_LOG_FILE` overrides the file). Times are ISO 8601 in UTC with milliseconds, so lines from several
machines sort and read alike.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from federation.config import NodeConfig
from federation.request_ids import REQUEST_ID

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def iso_utc(seconds: float) -> str:
    """`2026-12-04T15:40:01.123Z`: a Unix time as ISO 8601 UTC with milliseconds."""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonLineFormatter(logging.Formatter):
    """Formats a record as a single JSON line; `extra=` fields become top-level keys."""

    def __init__(self, party: str) -> None:
        super().__init__()
        self.party = party

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": iso_utc(record.created),
            "level": record.levelname.lower(),
            "party": self.party,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            line["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                line[key] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure_logging(party: str, level: str = "INFO", stream: Any = None, *, file: Path | None = None,
                      max_bytes: int = 50 * 2**20, backups: int = 5) -> None:
    """Send this process's logs as JSON lines to `file` (rotated at `max_bytes`, keeping `backups` old
    files) or else to `stream` (stderr by default)."""
    handler: logging.Handler
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(file, maxBytes=max_bytes, backupCount=backups,
                                                       encoding="utf-8")
    else:
        handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLineFormatter(party))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def configure_node_logging(party: str, config: NodeConfig) -> None:
    """Logging as a node's config says (`[node] log_level`, `log_file`, `log_max_mb`, `log_backups`)."""
    configure_logging(party, config.log_level, file=config.log_file, max_bytes=int(config.log_max_mb * 2**20),
                      backups=config.log_backups)
