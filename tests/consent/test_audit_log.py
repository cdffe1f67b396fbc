"""Contract tests of the audit log, run against every available backend (SQLite file; PostgreSQL at
XYD_TEST_POSTGRES_URL, else a throwaway server): transactional appends, proofs, queries, concurrency,
crash safety."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Column, Engine, MetaData, String, Table, func, insert, select, text

from consent.audit import (
    AuditEvent,
    AuditLog,
    Checkpoint,
    EventKind,
    SchemaMissingError,
    open_engine,
    verify_log_against_checkpoint,
)
from consent.merkle import MemoryTree, verify_consistency, verify_inclusion

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def use_event(n: int, *, institution: str = "bank/icbc-sz", unit: str = "source/tax") -> AuditEvent:
    return AuditEvent(
        kind=EventKind.VERIFICATION_ANSWERED, occurred_at=T0 + timedelta(seconds=n),
        authorisation_id=f"auth-{n % 3}", use_id=f"use-{n}", institution=institution, source_unit=unit,
    )


def make_state_table(metadata: MetaData) -> Table:
    """A stand-in for the caller's own state (e.g. the use counter row the gate writes)."""
    return Table("use_state", metadata, Column("use_id", String(64), primary_key=True),
                 Column("status", String(16), nullable=False))


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        built = open_engine(f"sqlite:///{tmp_path / 'registry.db'}")
    else:
        # A server of the operator's choosing, else a throwaway one (skips if the machine has none).
        url = os.environ.get("XYD_TEST_POSTGRES_URL") or request.getfixturevalue("postgres_url")
        built = open_engine(url)
        schema = f"audit_{uuid.uuid4().hex[:8]}"
        with built.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        built = open_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    yield built
    built.dispose()


@pytest.fixture
def log(engine: Engine) -> AuditLog:
    audit = AuditLog(engine)
    audit.create_schema()
    audit.create_schema()  # idempotent
    return audit


def test_receipts_and_roots_match_an_independent_in_memory_tree(engine: Engine, log: AuditLog) -> None:
    reference = MemoryTree()
    for n in range(37):
        with engine.begin() as conn:
            receipt = log.append(conn, use_event(n))
        reference.append(receipt.leaf)
        assert receipt.index == n and receipt.tree_size == n + 1
        assert receipt.root == reference.root()
    head = log.tree_head()
    assert (head.size, head.root) == (37, reference.root())
    for size in (1, 2, 7, 16, 36, 37):
        assert log.root(size) == reference.root(size)


def test_proofs_from_stored_nodes_verify(engine: Engine, log: AuditLog) -> None:
    with engine.begin() as conn:
        log.append_many(conn, [use_event(n) for n in range(100)])
    head = log.tree_head()
    for index in (0, 1, 50, 63, 64, 99):
        stored = log.leaf(index)
        verify_inclusion(stored.leaf_hash, index, head.size, log.inclusion_proof(index, head.size), head.root)
        if index < 77:  # against a past tree size as well
            verify_inclusion(stored.leaf_hash, index, 77, log.inclusion_proof(index, 77), log.root(77))
    for old in (1, 2, 31, 64, 65, 99, 100):
        verify_consistency(old, head.size, log.root(old), head.root, log.consistency_proof(old, head.size))
    with pytest.raises(ValueError):
        log.inclusion_proof(5, head.size + 1)  # beyond the log


def test_append_runs_in_the_callers_transaction(engine: Engine, log: AuditLog) -> None:
    metadata = MetaData()
    state = make_state_table(metadata)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(state).values(use_id="use-1", status="ANSWERED"))
        log.append(conn, use_event(1))
    with pytest.raises(RuntimeError), engine.begin() as conn:
        conn.execute(insert(state).values(use_id="use-2", status="ANSWERED"))
        log.append(conn, use_event(2))
        raise RuntimeError("the caller's change failed after the append")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(state)).scalar_one() == 1
    assert log.tree_size() == 1 and [leaf.event.use_id for leaf in log.leaves()] == ["use-1"]


def test_queries_for_compliance(engine: Engine, log: AuditLog) -> None:
    with engine.begin() as conn:
        log.append_many(conn, [use_event(n, institution="bank/a" if n % 2 else "bank/b") for n in range(20)])
        log.append(conn, AuditEvent(kind=EventKind.MODEL_TRAINED, occurred_at=T0, job_id="job-1", model_id="m-1"))
    assert [leaf.index for leaf in log.find(institution="bank/a", limit=3)] == [1, 3, 5]
    window = log.find(since=T0 + timedelta(seconds=5), until=T0 + timedelta(seconds=8))
    assert [leaf.event.use_id for leaf in window] == ["use-5", "use-6", "use-7"]
    assert log.count(kinds=[EventKind.VERIFICATION_ANSWERED], authorisation_id="auth-0") == 7
    assert log.count(kinds=[EventKind.MODEL_TRAINED]) == 1
    assert {leaf.event.use_id for leaf in log.leaves_for_uses(["use-3", "use-4", "nope"])} == {"use-3", "use-4"}
    assert [leaf.index for leaf in log.leaves(18, 21)] == [18, 19, 20]


def test_missing_schema_is_a_typed_error(engine: Engine) -> None:
    with pytest.raises(SchemaMissingError):
        AuditLog(engine, prefix="never_created").tree_size()


def test_concurrent_writers_never_share_an_index(engine: Engine, log: AuditLog) -> None:
    metadata = MetaData()
    state = make_state_table(metadata)
    metadata.create_all(engine)
    errors: list[BaseException] = []

    def writer(worker: int) -> None:
        try:
            for n in range(40):
                use = f"w{worker}-{n}"
                with engine.begin() as conn:
                    # read-then-write, as a real gate does (check the counter, then record the use)
                    conn.execute(select(func.count()).select_from(state)).scalar_one()
                    conn.execute(insert(state).values(use_id=use, status="ANSWERED"))
                    log.append(conn, use_event(worker * 1000 + n))
        except BaseException as error:  # reported to the main thread below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors and not any(t.is_alive() for t in threads)
    leaves = list(log.leaves())
    assert [leaf.index for leaf in leaves] == list(range(160))
    assert len({leaf.event.use_id for leaf in leaves}) == 160
    head = log.tree_head()
    verify_log_against_checkpoint(log, Checkpoint("xyd.test/audit", head.size, head.root))


CRASHING_WRITER = """
import os, sys
from datetime import UTC, datetime
from sqlalchemy import Column, MetaData, String, Table, insert
from consent.audit import AuditEvent, AuditLog, EventKind, open_engine
engine = open_engine(f"sqlite:///{sys.argv[1]}")
state = Table("use_state", MetaData(), Column("use_id", String(64), primary_key=True), Column("status", String(16)))
log = AuditLog(engine)
with engine.begin() as conn:
    conn.execute(insert(state).values(use_id="use-crash", status="ANSWERED"))
    log.append(conn, AuditEvent(kind=EventKind.VERIFICATION_ANSWERED, occurred_at=datetime.now(UTC),
                                authorisation_id="auth-0", use_id="use-crash", institution="bank/x",
                                source_unit="source/tax"))
    print("written", flush=True)
    if sys.argv[2] == "crash":
        os._exit(17)  # the process dies inside the transaction, before COMMIT
print("committed", flush=True)
"""


def _run_writer(db: Path, mode: str) -> subprocess.CompletedProcess[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", CRASHING_WRITER, str(db), mode], cwd=REPO, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def test_a_process_killed_mid_transaction_leaves_neither_state_nor_leaf(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    engine = open_engine(f"sqlite:///{db}")
    metadata = MetaData()
    state = make_state_table(metadata)
    metadata.create_all(engine)
    log = AuditLog(engine)
    log.create_schema()
    with engine.begin() as conn:
        log.append_many(conn, [use_event(n) for n in range(5)])
    before = log.tree_head()

    crashed = _run_writer(db, "crash")
    assert crashed.returncode == 17 and "written" in crashed.stdout, crashed.stderr
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(state)).scalar_one() == 0
    assert log.tree_head() == before
    assert log.leaves_for_uses(["use-crash"]) == []
    verify_log_against_checkpoint(log, Checkpoint("xyd.test/audit", before.size, before.root))

    committed = _run_writer(db, "commit")
    assert committed.returncode == 0 and "committed" in committed.stdout, committed.stderr
    with engine.connect() as conn:
        assert conn.execute(select(state.c.use_id)).scalars().all() == ["use-crash"]
    assert [leaf.index for leaf in log.leaves_for_uses(["use-crash"])] == [before.size]
    engine.dispose()


def test_statements_compile_for_postgresql_without_sqlite_only_sql() -> None:
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.schema import CreateIndex, CreateTable

    from consent.audit.prepared import PreparedStatement

    dialect = postgresql.psycopg.dialect()
    audit = AuditLog(open_engine("sqlite://"))
    for table in audit.tables.all:
        assert "CREATE TABLE" in str(CreateTable(table).compile(dialect=dialect))
        for index in table.indexes:
            assert "CREATE INDEX" in str(CreateIndex(index).compile(dialect=dialect))
    from sqlalchemy import update

    head = audit.tables.head
    reserve = PreparedStatement(update(head).values(tree_size=head.c.tree_size + 1).returning(head.c.tree_size))
    assert "RETURNING" in reserve.sql(dialect) and "%(" in reserve.sql(dialect)  # psycopg's named parameters


def test_a_writer_waits_for_the_write_lock_and_gives_up_after_its_timeout(tmp_path: Path) -> None:
    from sqlalchemy.exc import OperationalError

    url = f"sqlite:///{tmp_path / 'lock.db'}"
    holder_engine, patient, impatient = open_engine(url), open_engine(url), open_engine(url, busy_timeout_ms=50)
    log = AuditLog(holder_engine)
    log.create_schema()
    holding, release = threading.Event(), threading.Event()

    def hold_the_write_lock() -> None:
        with holder_engine.begin() as conn:
            log.append(conn, use_event(0))
            holding.set()
            release.wait(timeout=30)

    holder = threading.Thread(target=hold_the_write_lock)
    holder.start()
    try:
        assert holding.wait(timeout=30)
        with pytest.raises(OperationalError, match="locked"), impatient.begin() as conn:
            AuditLog(impatient).append(conn, use_event(1))
        threading.Timer(0.2, release.set).start()
        with patient.begin() as conn:  # waits for the holder's commit, then gets the next index
            receipt = AuditLog(patient).append(conn, use_event(2))
        assert receipt.index == 1
    finally:
        release.set()
        holder.join(timeout=30)
    assert [leaf.event.use_id for leaf in log.leaves()] == ["use-0", "use-2"]
    for engine in (holder_engine, patient, impatient):
        engine.dispose()


def test_writers_of_one_engine_take_turns_and_readers_do_not_queue(tmp_path: Path) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from consent.audit.storage import READ_ONLY

    engine = open_engine(f"sqlite:///{tmp_path / 'turns.db'}", busy_timeout_ms=100)
    log = AuditLog(engine)
    log.create_schema()
    holding, release = threading.Event(), threading.Event()

    def hold_the_write_turn() -> None:
        with engine.begin() as conn:
            log.append(conn, use_event(0))
            holding.set()
            release.wait(timeout=30)

    holder = threading.Thread(target=hold_the_write_turn)
    holder.start()
    try:
        assert holding.wait(timeout=30)
        with engine.connect().execution_options(**READ_ONLY) as reader:  # not blocked by the writer
            assert reader.execute(text("SELECT count(*) FROM sqlite_master")).scalar_one() > 0
        with pytest.raises(OperationalError, match="locked"), engine.begin() as conn:  # waited 100 ms in turn
            log.append(conn, use_event(1))
    finally:
        release.set()
        holder.join(timeout=30)
    with pytest.raises(ZeroDivisionError), engine.begin() as conn:  # a rolled-back writer gives its turn back
        log.append(conn, use_event(2))
        raise ZeroDivisionError
    with engine.connect() as conn:  # one connection, two writing transactions in a row
        log.append(conn, use_event(3))
        conn.commit()
        log.append(conn, use_event(4))
        conn.commit()
    engine.dispose()
    engine = open_engine(f"sqlite:///{tmp_path / 'turns.db'}")  # the default (long) wait for the turn
    results: list[int] = []
    workers = [threading.Thread(target=lambda i=i: results.append(_append_in_turn(engine, AuditLog(engine), 10 + i)))
               for i in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert sorted(results) == list(range(3, 11))
    assert [leaf.event.use_id for leaf in log.leaves()][:3] == ["use-0", "use-3", "use-4"]
    engine.dispose()


def _append_in_turn(engine: Engine, log: AuditLog, n: int) -> int:
    with engine.begin() as conn:
        return log.append(conn, use_event(n)).index
