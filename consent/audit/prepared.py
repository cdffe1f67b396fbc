"""Core statements compiled once per dialect and run through the driver: the append hot path.

SQLAlchemy Core spends ~80 us per `execute` on compiled-cache lookups and parameter processing; the
append path runs four statements per transaction, which alone would cap a log at ~2,000 appends/s on this
machine. The statements are still written in SQLAlchemy Core and compiled by SQLAlchemy for the dialect of
the connection they run on, so the SQL stays portable; only the per-call overhead is skipped. Parameters
must be plain values the driver accepts (int, str, bytes, None).

Many rows of an INSERT go, on drivers with `?` placeholders (SQLite), as one multi-row `VALUES` statement
per chunk rather than one step per row: the sqlite3 module lets go of the GIL around every step, and in
a busy server each step then waits for the GIL again (a writer's group of 5 uses took 4.4 ms of wall time
for 1.5 ms of CPU).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, CursorResult, Dialect
from sqlalchemy.sql import Executable

# At most this many parameters per statement: SQLite's limit before 3.32 (later builds allow 32,766).
MAX_PARAMETERS = 999
_ONE_ROW = re.compile(r"^(INSERT INTO .+ VALUES )(\(\?(?:, \?)*\))$", re.DOTALL)


class _Compiled:
    """One statement's SQL text, default parameters and positional order for one dialect."""

    def __init__(self, statement: Executable, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.defaults = dict(compiled.params)
        self.order = list(compiled.positiontup or ()) if compiled.positional else None
        # A plain one-row INSERT with `?` placeholders can be widened to many rows.
        one_row = _ONE_ROW.match(self.sql) if dialect.paramstyle == "qmark" and self.order else None
        self._head, self._row = (one_row.group(1), one_row.group(2)) if one_row else (None, None)
        self._many: dict[int, str] = {}

    @property
    def rows_per_statement(self) -> int:
        """How many rows one statement may insert (1: one step per row through `executemany`)."""
        if self._head is None:
            return 1
        return max(1, MAX_PARAMETERS // max(1, len(self.order or ())))

    def many_rows_sql(self, count: int) -> str:
        sql = self._many.get(count)
        if sql is None:
            sql = self._many[count] = self._head + ", ".join([self._row] * count)
        return sql

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

    def execute_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run the statement once per row (an INSERT on SQLite: a few multi-row statements)."""
        compiled = self._for(conn.dialect)
        step = compiled.rows_per_statement
        if step == 1 or len(rows) == 1:
            conn.exec_driver_sql(compiled.sql, [compiled.bind(row) for row in rows])
            return
        for start in range(0, len(rows), step):
            chunk = rows[start:start + step]
            values = tuple(value for row in chunk for value in compiled.bind(row))
            conn.exec_driver_sql(compiled.many_rows_sql(len(chunk)), values)
