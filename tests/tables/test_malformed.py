"""Unreadable inputs give a clear DataValidationError (never a stack trace from a parser)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tables import DataValidationError, ProblemKind, load_table
from tests.tables.conftest import make_frame, write_csv


def refusal(schema_path: Path, source: Path | str, **kwargs: object) -> DataValidationError:
    with pytest.raises(DataValidationError) as info:
        load_table(schema_path, source, **kwargs)
    return info.value


def test_empty_file_and_header_only(schema_path: Path, tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_text("")
    assert refusal(schema_path, tmp_path / "empty.csv").kinds == {ProblemKind.EMPTY_FILE}
    (tmp_path / "header.csv").write_text(",".join(make_frame().columns) + "\n")
    error = refusal(schema_path, tmp_path / "header.csv")
    assert error.kinds == {ProblemKind.EMPTY_FILE} and "no rows" in str(error)


def test_wrong_delimiter_is_named(schema_path: Path, tmp_path: Path) -> None:
    path = write_csv(make_frame(), tmp_path / "semi.csv", sep=";")
    error = refusal(schema_path, path)
    assert error.kinds == {ProblemKind.MALFORMED_FILE}
    assert "';'-delimited" in str(error)
    assert len(load_table(schema_path, path, delimiter=";")) == len(make_frame())


def test_ragged_rows_are_listed(schema_path: Path, tmp_path: Path) -> None:
    path = write_csv(make_frame(rows=10), tmp_path / "ragged.csv")
    lines = path.read_text().splitlines()
    lines[3] += ",extra"  # data row 3
    lines[7] = lines[7].rsplit(",", 2)[0]  # data row 7
    path.write_text("\n".join(lines) + "\n")
    error = refusal(schema_path, path)
    assert error.kinds == {ProblemKind.MALFORMED_FILE}
    assert error.problems[0].rows == (3, 7) and "8 fields" in str(error)


def test_broken_quoting_and_bad_encoding(schema_path: Path, tmp_path: Path) -> None:
    path = write_csv(make_frame(rows=5), tmp_path / "quote.csv")
    path.write_text(path.read_text() + '91330106MA27U0J1XX,"12"3,1,A,330106,true,0,2020-01-01\n')
    assert "not a readable CSV" in str(refusal(schema_path, path))
    latin = tmp_path / "latin.csv"
    latin.write_bytes(write_csv(make_frame(rows=5), tmp_path / "x.csv").read_bytes() + "é".encode("latin-1"))
    assert "not UTF-8" in str(refusal(schema_path, latin))


def test_not_a_parquet_file_not_a_database_and_unknown_suffix(schema_path: Path, tmp_path: Path) -> None:
    fake = tmp_path / "fake.parquet"
    fake.write_bytes(write_csv(make_frame(), tmp_path / "x.csv").read_bytes())
    assert "not a Parquet file" in str(refusal(schema_path, fake))
    truncated = tmp_path / "cut.parquet"
    make_frame().to_parquet(tmp_path / "ok.parquet")
    truncated.write_bytes((tmp_path / "ok.parquet").read_bytes()[:200])
    assert refusal(schema_path, truncated).kinds == {ProblemKind.MALFORMED_FILE}
    not_db = tmp_path / "notdb.db"
    not_db.write_text("hello")
    assert "not a SQLite database" in str(refusal(schema_path, not_db, table="tax"))
    assert "unknown file type" in str(refusal(schema_path, tmp_path / "table.xlsx"))
    assert "file not found" in str(refusal(schema_path, tmp_path / "absent.csv"))


def test_sqlite_missing_table_or_name(schema_path: Path, tmp_path: Path) -> None:
    db = tmp_path / "units.db"
    connection = sqlite3.connect(db)
    connection.execute("CREATE TABLE other (credit_code TEXT)")
    connection.commit()
    connection.close()
    before = db.read_bytes()
    assert "no table or view named 'tax'" in str(refusal(schema_path, f"sqlite:///{db}?table=tax"))
    assert "needs a table name" in str(refusal(schema_path, db))
    assert "no table or view named 'x\"; DROP TABLE other; --'" in str(
        refusal(schema_path, db, table='x"; DROP TABLE other; --')
    )
    assert db.read_bytes() == before  # opened read-only, never modified
