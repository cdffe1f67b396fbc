"""`PreparedStatement.execute_many`: many-row INSERTs on SQLite write exactly the rows given, in chunks."""

from __future__ import annotations

import sqlalchemy as sa

from consent.audit.prepared import MAX_PARAMETERS, PreparedStatement
from consent.audit.storage import open_engine


def _table() -> tuple[sa.MetaData, sa.Table]:
    metadata = sa.MetaData()
    table = sa.Table("t", metadata, sa.Column("a", sa.Integer, primary_key=True), sa.Column("b", sa.LargeBinary),
                     sa.Column("c", sa.String, nullable=True))
    return metadata, table


def test_rows_beyond_one_statement_are_all_inserted_in_order(tmp_path) -> None:
    metadata, table = _table()
    engine = open_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    metadata.create_all(engine)
    statement = PreparedStatement(sa.insert(table))
    rows = [{"a": i, "b": bytes([i % 256]), "c": None if i % 7 == 0 else f"r{i}"} for i in range(2 * MAX_PARAMETERS)]
    with engine.begin() as conn:
        statement.execute_many(conn, rows)
        got = [dict(r._mapping) for r in conn.execute(sa.select(table).order_by(table.c.a))]
    assert got == rows
    assert "), (" in statement._for(engine.dialect).many_rows_sql(3)  # the widened form is what ran


def test_a_failing_row_rolls_back_the_whole_transaction(tmp_path) -> None:
    metadata, table = _table()
    engine = open_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    metadata.create_all(engine)
    statement = PreparedStatement(sa.insert(table))
    try:
        with engine.begin() as conn:
            statement.execute_many(conn, [{"a": 1, "b": b"x", "c": "1"}, {"a": 1, "b": b"y", "c": "dup"}])
    except sa.exc.IntegrityError:
        pass
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one() == 0


def test_statements_other_than_plain_inserts_run_row_by_row(tmp_path) -> None:
    metadata, table = _table()
    engine = open_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    metadata.create_all(engine)
    with engine.begin() as conn:
        PreparedStatement(sa.insert(table)).execute_many(conn, [{"a": i, "b": b"", "c": "old"} for i in range(5)])
        update = PreparedStatement(sa.update(table).where(table.c.a == sa.bindparam("key")).values(c=sa.bindparam("new")))
        assert update._for(engine.dialect).rows_per_statement == 1
        update.execute_many(conn, [{"key": i, "new": f"new{i}"} for i in range(5)])
        assert [r.c for r in conn.execute(sa.select(table.c.c).order_by(table.c.a))] == [f"new{i}" for i in range(5)]
