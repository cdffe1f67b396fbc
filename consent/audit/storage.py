"""Engines for the log: SQLite (WAL) by default, any SQLAlchemy URL (PostgreSQL) through the same code.

SQLite needs two settings for a correct append-only log under concurrency: WAL (readers never block the
writer) and `BEGIN IMMEDIATE` for writing transactions, so that a transaction which reads before it writes
cannot fail half-way with SQLITE_BUSY when another writer commits first. Connections opened with the
execution option `xyd_read_only=True` begin a plain deferred transaction and so do not queue behind writers.
Nothing here runs for other dialects.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event

READ_ONLY = {"xyd_read_only": True}
_SYNCHRONOUS = ("NORMAL", "FULL", "EXTRA")


def open_engine(url: str, *, synchronous: str = "NORMAL", busy_timeout_ms: int = 30_000, **kwargs: Any) -> Engine:
    """Create an engine; for SQLite, switch on WAL, `synchronous`, a busy timeout and immediate writes.

    `synchronous="NORMAL"` (the WAL default advice) keeps every commit across a process crash but may lose
    the last commits on power loss; `"FULL"` syncs the WAL on every commit (durable, slower).
    """
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        configure_sqlite(engine, synchronous=synchronous, busy_timeout_ms=busy_timeout_ms)
    return engine


def configure_sqlite(engine: Engine, *, synchronous: str = "NORMAL", busy_timeout_ms: int = 30_000) -> None:
    """Install the WAL / immediate-transaction hooks on an existing SQLite engine (before first use)."""
    if synchronous not in _SYNCHRONOUS:
        raise ValueError(f"synchronous must be one of {_SYNCHRONOUS}")
    if not 0 <= busy_timeout_ms <= 600_000:
        raise ValueError("busy_timeout_ms must be within [0, 600000]")
    in_memory = engine.url.database in (None, "", ":memory:")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own implicit transactions are switched off; SQLAlchemy's "begin" hook below
        # issues BEGIN itself (the SQLAlchemy-documented recipe for pysqlite).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        read_only = connection.get_execution_options().get("xyd_read_only", False)
        connection.exec_driver_sql("BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE")
