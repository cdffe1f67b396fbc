"""Core statements compiled once per dialect and run through the driver: the append hot path.

SQLAlchemy Core spends ~80 us per `execute` on compiled-cache lookups and parameter processing; the
append path runs four statements per transaction, which alone would cap a log at ~2,000 appends/s on this
machine. The statements are still written in SQLAlchemy Core and compiled by SQLAlchemy for the dialect of
the connection they run on, so the SQL stays portable; only the per-call overhead is skipped. Parameters
must be plain values the driver accepts (int, str, bytes, None).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, CursorResult, Dialect
from sqlalchemy.sql import Executable


class _Compiled:
    """One statement's SQL text, default parameters and positional order for one dialect."""

    def __init__(self, statement: Executable, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.defaults = dict(compiled.params)
        self.order = list(compiled.positiontup or ()) if compiled.positional else None

    def bind(self, values: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        merged = {**self.defaults, **values}
        if self.order is None:
            return merged
        return tuple(merged[name] for name in self.order)


class PreparedStatement:
    """A Core statement compiled lazily for each dialect it meets; execute with a dict or a list of dicts."""

    def __init__(self, statement: Executable) -> None:
        self._statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def _for(self, dialect: Dialect) -> _Compiled:
        key = f"{dialect.name}+{dialect.driver}"
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = _Compiled(self._statement, dialect)
        return compiled

    def sql(self, dialect: Dialect) -> str:
        """The SQL text this statement runs on `dialect` (for inspection and tests)."""
        return self._for(dialect).sql

    def execute(self, conn: Connection, values: Mapping[str, Any] | None = None) -> CursorResult[Any]:
        compiled = self._for(conn.dialect)
        return conn.exec_driver_sql(compiled.sql, compiled.bind(values or {}))

    def execute_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> CursorResult[Any]:
        compiled = self._for(conn.dialect)
        return conn.exec_driver_sql(compiled.sql, [compiled.bind(row) for row in rows])
