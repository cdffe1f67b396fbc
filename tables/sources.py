"""Read a table's raw cells from CSV, Parquet or SQLite, turning unreadable files into DataValidationError.

Nothing here interprets values: CSV cells stay strings (or None for a null token), Parquet and SQLite cells
keep their stored types. Typing and rule checks happen in `tables.validation`.
"""

from __future__ import annotations

import csv
import sqlite3
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import parse_qs

import pandas as pd

from tables.errors import ROWS_SHOWN, DataValidationError, Problem, ProblemKind

# Cells that mean "no value" in a CSV file (documented in docs/data-intake.md).
NULL_TOKENS = frozenset({"", "NA", "N/A", "NULL", "null", "NaN", "nan", "None"})
_PARQUET_MAGIC = b"PAR1"
_SQLITE_MAGIC = b"SQLite format 3\x00"
_OTHER_DELIMITERS = (";", "\t", "|")
# Bounds on what intake reads, so a hostile or broken file is refused before it costs time or memory (stated
# in docs/data-intake.md): columns of a table, characters of one column name, bytes of one source file. One
# CSV field is bounded by the csv module's own limit (131,072 characters).
MAX_COLUMNS = 4096
MAX_HEADER_NAME_CHARS = 256
MAX_SOURCE_BYTES = 16 << 30


class SourceFormat(StrEnum):
    CSV = "csv"
    PARQUET = "parquet"
    SQLITE = "sqlite"


_SUFFIXES = {
    ".csv": SourceFormat.CSV,
    ".txt": SourceFormat.CSV,
    ".parquet": SourceFormat.PARQUET,
    ".pq": SourceFormat.PARQUET,
    ".db": SourceFormat.SQLITE,
    ".sqlite": SourceFormat.SQLITE,
    ".sqlite3": SourceFormat.SQLITE,
}


@dataclass(frozen=True)
class SourceSpec:
    """Where a table lives: a file path, its format, and for SQLite the table name."""

    path: Path
    format: SourceFormat
    table: str | None = None

    @property
    def label(self) -> str:
        return f"{self.path}?table={self.table}" if self.table else str(self.path)


@dataclass(frozen=True)
class RawTable:
    """Cells as stored (row i of `frame` is 1-based data row i + 1) and the label errors should name."""

    frame: pd.DataFrame
    label: str


def parse_source(source: Path | str, *, table: str | None = None) -> SourceSpec:
    """Resolve a path or a `sqlite:///path.db?table=NAME` URL into a SourceSpec (format from the suffix)."""
    text = str(source)
    if text.startswith("sqlite:///"):
        rest = text[len("sqlite:///") :]
        path_part, _, query = rest.partition("?")
        names = parse_qs(query).get("table", [])
        if table is None and names:
            table = names[0]
        return SourceSpec(Path(path_part), SourceFormat.SQLITE, table)
    path = Path(source)
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise DataValidationError(
            text,
            [Problem(ProblemKind.MALFORMED_FILE, f"unknown file type {path.suffix!r}; use .csv, .parquet or .db")],
        )
    return SourceSpec(path, fmt, table)


def read_source(spec: SourceSpec, *, delimiter: str = ",") -> RawTable:
    """Read every cell of the source; raise DataValidationError if the file is missing, empty or malformed."""
    if not spec.path.is_file():
        raise _malformed(spec.label, "file not found")
    if spec.path.stat().st_size > MAX_SOURCE_BYTES:
        raise _malformed(spec.label, f"the file is larger than {MAX_SOURCE_BYTES >> 30} GiB, the most intake reads")
    if spec.format is SourceFormat.CSV:
        frame = _read_csv(spec.path, spec.label, delimiter)
    elif spec.format is SourceFormat.PARQUET:
        frame = _read_parquet(spec.path, spec.label)
    else:
        frame = _read_sqlite(spec.path, spec.label, spec.table)
    if len(frame) == 0:
        raise DataValidationError(spec.label, [Problem(ProblemKind.EMPTY_FILE, "the table has a header but no rows")])
    return RawTable(frame=frame, label=spec.label)


def _malformed(label: str, detail: str, rows: tuple[int, ...] = (), count: int = 0) -> DataValidationError:
    return DataValidationError(label, [Problem(ProblemKind.MALFORMED_FILE, detail, rows=rows, count=count)])


def _read_csv(path: Path, label: str, delimiter: str) -> pd.DataFrame:
    if path.stat().st_size == 0:
        raise DataValidationError(label, [Problem(ProblemKind.EMPTY_FILE, "the file is empty")])
    header: list[str] | None = None
    rows: list[list[str]] = []
    ragged: list[int] = []
    ragged_count = 0
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f, delimiter=delimiter, strict=True)
            for record in reader:
                if not record:
                    continue  # blank lines are skipped and not numbered
                if header is None:
                    header = [h.strip() for h in record]
                    _check_header(label, header)
                    continue
                if len(record) != len(header):
                    ragged_count += 1
                    if len(ragged) < ROWS_SHOWN:
                        ragged.append(len(rows) + 1)
                    rows.append([])
                    continue
                rows.append(record)
    except UnicodeDecodeError as exc:
        raise _malformed(label, f"not UTF-8 text (bad byte at offset {exc.start})") from None
    except csv.Error as exc:
        # csv.Error texts describe structure (quotes, NUL bytes), never cell contents.
        raise _malformed(label, f"not a readable CSV file ({exc}) near data row {len(rows) + 1}") from None
    if header is None:
        raise DataValidationError(label, [Problem(ProblemKind.EMPTY_FILE, "the file holds only blank lines")])
    if len(header) == 1 and delimiter not in header[0]:
        for other in _OTHER_DELIMITERS:
            if other in header[0]:
                raise _malformed(
                    label, f"the header is a single column; the file seems to be {other!r}-delimited, expected {delimiter!r}"
                )
    duplicated = sorted(name for name, count in Counter(header).items() if count > 1)
    if duplicated:
        raise _malformed(label, f"the header names columns more than once: {duplicated}")
    if ragged_count:
        raise _malformed(
            label, f"rows do not have the header's {len(header)} fields", rows=tuple(ragged), count=ragged_count
        )
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in header]
    data = {}
    for name, values in zip(header, columns, strict=True):
        series = pd.Series(values, dtype=object)
        data[name] = series.where(~series.isin(NULL_TOKENS), None)
    return pd.DataFrame(data, columns=header)


def _check_header(label: str, names: list[str]) -> None:
    """Refuse a header past the bounds above, without quoting it."""
    if len(names) > MAX_COLUMNS:
        raise _malformed(label, f"the header has {len(names)} columns; intake reads at most {MAX_COLUMNS}")
    long = [position + 1 for position, name in enumerate(names) if len(name) > MAX_HEADER_NAME_CHARS]
    if long:
        raise _malformed(label, f"column name longer than {MAX_HEADER_NAME_CHARS} characters "
                                f"(column{'s' if len(long) > 1 else ''} {', '.join(map(str, long[:ROWS_SHOWN]))})")


def _read_parquet(path: Path, label: str) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with open(path, "rb") as f:
        head = f.read(4)
        if head != _PARQUET_MAGIC:
            raise _malformed(label, "not a Parquet file (missing PAR1 magic bytes)")
    try:
        _check_header(label, list(pq.read_schema(path).names))
        table = pq.read_table(path)
        table.validate(full=True)  # corrupt pages (strings that are not UTF-8, bad offsets) fail here, not later
        return table.to_pandas()
    except (pa.ArrowException, OSError, ValueError, TypeError, OverflowError) as exc:
        # A corrupt file can fail in the reader or while its values become Python ones (a date past year 9999).
        raise _malformed(label, f"unreadable Parquet file ({type(exc).__name__})") from None


def _read_sqlite(path: Path, label: str, table: str | None) -> pd.DataFrame:
    if table is None:
        raise _malformed(label, "a SQLite source needs a table name (sqlite:///file.db?table=NAME or --sqlite-table)")
    with open(path, "rb") as f:
        if f.read(len(_SQLITE_MAGIC)) != _SQLITE_MAGIC:
            raise _malformed(label, "not a SQLite database file")
    # Read-only URI: validating a table must never create or modify the database.
    connection = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        found = connection.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?", (table,)
        ).fetchone()
        if found is None:
            raise _malformed(label, f"no table or view named {table!r} in the database")
        quoted = '"' + table.replace('"', '""') + '"'
        cursor = connection.execute(f"SELECT * FROM {quoted}")  # noqa: S608 - name checked against sqlite_master
        names = [d[0] for d in cursor.description]
        records = cursor.fetchall()
    except sqlite3.DatabaseError as exc:
        raise _malformed(label, f"unreadable SQLite database ({exc})") from None
    finally:
        connection.close()
    _check_header(label, [str(n) for n in names])
    duplicated = sorted(name for name, count in Counter(names).items() if count > 1)
    if duplicated:
        raise _malformed(label, f"the table names columns more than once: {duplicated}")
    columns = list(zip(*records, strict=True)) if records else [() for _ in names]
    return pd.DataFrame({n: pd.Series(list(v), dtype=object) for n, v in zip(names, columns, strict=True)}, columns=names)
