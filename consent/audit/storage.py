"""Engines for the log: SQLite (WAL) by default, any SQLAlchemy URL (PostgreSQL) through the same code.

SQLite needs two settings for a correct append-only log under concurrency: WAL (readers never block the
writer) and `BEGIN IMMEDIATE` for writing transactions, so that a transaction which reads before it writes
cannot fail half-way with SQLITE_BUSY when another writer commits first. Connections opened with the
execution option `xyd_read_only=True` begin a plain deferred transaction and so do not queue behind writers.

Waiting for the write lock: SQLite's own busy handler sleeps in steps of 1, 2, 5, 10 ... ms, which wastes
most of the time when transactions last a fraction of a millisecond (four writer threads reached a third of
the single-writer rate). `BEGIN IMMEDIATE` therefore runs with the busy timeout switched off and is retried
here with sleeps from 50 us doubling to 2 ms, until `busy_timeout_ms`; every other statement keeps the
normal busy timeout. Nothing here runs for other dialects.

Writers of one process also queue on a lock of their engine before `BEGIN IMMEDIATE`: threads then take the
write lock in turn instead of polling for it (sixteen API threads polling spent most of their time asleep),
and the polling above only arbitrates between processes.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError

READ_ONLY = {"xyd_read_only": True}
_SYNCHRONOUS = ("NORMAL", "FULL", "EXTRA")
_FIRST_PAUSE, _LONGEST_PAUSE = 50e-6, 2e-3
_SQLITE_POOL_SIZE = 40  # as many connections as a server has worker threads (anyio's default: 40)


def open_engine(url: str, *, synchronous: str = "NORMAL", busy_timeout_ms: int = 30_000, **kwargs: Any) -> Engine:
    """Create an engine; for SQLite, switch on WAL, `synchronous`, a busy timeout and immediate writes.

    `synchronous="NORMAL"` (the WAL default advice) keeps every commit across a process crash but may lose
    the last commits on power loss; `"FULL"` syncs the WAL on every commit (durable, slower).
    """
    if url.startswith("sqlite") and ":memory:" not in url and url.rstrip("/") != "sqlite:":
        # Every worker thread of a server may hold a connection at once; SQLAlchemy's default pool (5 kept,
        # 10 overflow closed on return) made busy APIs open a new connection, and run its PRAGMAs, per request.
        kwargs.setdefault("pool_size", _SQLITE_POOL_SIZE)
        kwargs.setdefault("max_overflow", _SQLITE_POOL_SIZE)
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        configure_sqlite(engine, synchronous=synchronous, busy_timeout_ms=busy_timeout_ms)
    return engine


def _begin_immediate(raw: sqlite3.Connection, busy_timeout_ms: int) -> None:
    """BEGIN IMMEDIATE, retrying with short sleeps while another connection holds the write lock.

    Gives up with SQLAlchemy's OperationalError ("database is locked") after `busy_timeout_ms`.
    """
    deadline = time.monotonic() + busy_timeout_ms / 1000
    pause = _FIRST_PAUSE
    raw.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) and "busy" not in str(error):
                    raise OperationalError("BEGIN IMMEDIATE", None, error) from error
                if time.monotonic() + pause > deadline:
                    raise OperationalError("BEGIN IMMEDIATE", None, error) from error
                time.sleep(pause)
                pause = min(pause * 2, _LONGEST_PAUSE)
    finally:
        raw.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")


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

    writers = _WriterTurn(busy_timeout_ms)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get("xyd_read_only", False):
            connection.exec_driver_sql("BEGIN DEFERRED")
            return
        raw = connection.connection.driver_connection
        writers.take(raw)
        try:
            _begin_immediate(raw, busy_timeout_ms)
        except BaseException:
            writers.give_back(raw)
            raise

    # These fire just before the driver's COMMIT/ROLLBACK: the next writer of this process may then meet the
    # lock for a moment and fall back to the short polling of `_begin_immediate`, which is still correct.
    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(connection: Any) -> None:
        writers.give_back(connection.connection.driver_connection)

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_connection: Any, _record: Any) -> None:
        writers.give_back(dbapi_connection)


class _WriterTurn:
    """The in-process queue of writing transactions on one SQLite engine (see the module docstring)."""

    def __init__(self, timeout_ms: int) -> None:
        self._lock = threading.Lock()
        self._holder: int | None = None
        self._timeout_s = timeout_ms / 1000

    def take(self, raw: sqlite3.Connection) -> None:
        if self._holder == id(raw):
            return
        if not self._lock.acquire(timeout=self._timeout_s):
            raise OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked"))
        self._holder = id(raw)

    def give_back(self, raw: Any) -> None:
        if self._holder is not None and self._holder == id(raw):
            self._holder = None
            self._lock.release()
