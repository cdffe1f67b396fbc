"""Core statements compiled once per dialect and run through the driver: the append hot path.

SQLAlchemy Core spends ~80 us per `execute` on compiling-cache lookups and parameter processing; the
append path runs four statements per transaction, which alone would cap a log at ~2,000 appends/s. The
statements are still written in SQLAlchemy Core and compiled by SQLAlchemy for the engine's dialect, so
the SQL stays portable; only the per-call overhead is skipped. Parameters must be plain Python values the
driver accepts (int, str, bytes, None).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, CursorResult, Dialect
from sqlalchemy.sql import Executable


class PreparedStatement:
    """A Core statement compiled for one dialect; execute with a dict or a list of dicts."""

    def __init__(self, statement: Executable, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self._defaults = dict(compiled.params)
        self._order = list(compiled.positiontup or ()) if compiled.positional else None

    def _bind(self, values: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        merged = {**self._defaults, **values}
        if self._order is None:
            return merged
        return tuple(merged[name] for name in self._order)

    def execute(self, conn: Connection, values: Mapping[str, Any] | None = None) -> CursorResult[Any]:
        return conn.exec_driver_sql(self.sql, self._bind(values or {}))

    def execute_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> CursorResult[Any]:
        return conn.exec_driver_sql(self.sql, [self._bind(row) for row in rows])
