"""Hostile table files (issue 20 item 4): mutated CSV bytes (delimiters, ragged rows, NUL bytes, BOMs, GBK text,
random bytes, truncation), huge fields and header lines, truncated Parquet files and columns of the wrong
type. Each either loads or raises an `IntakeError` whose message names rows and columns, never a protected
value; none crashes with another exception or takes long."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tables import IntakeError, load_table
from tables.sources import MAX_COLUMNS, MAX_HEADER_NAME_CHARS
from tests.tables.conftest import SCHEMA_TOML, make_frame, typed_for_storage

EXAMPLES = int(os.environ.get("XYD_FUZZ_EXAMPLES", "25"))
SECRET = "4817263.59"  # a protected value planted in the table: no error may ever show it
_FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _valid_csv() -> bytes:
    frame = make_frame(rows=12)
    frame.loc[3, "tax_paid"] = SECRET
    return frame.to_csv(index=False).encode("utf-8")


VALID = _valid_csv()


def _mutate(data: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    out = bytearray(data)
    for kind, at, blob in edits:
        at %= max(1, len(out))
        if kind == 0:
            out[at:at] = blob  # insert
        elif kind == 1:
            del out[at:at + len(blob) + 1]  # delete
        elif kind == 2:
            out[at:at + len(blob)] = blob  # overwrite
        else:
            del out[at:]  # truncate
    return bytes(out)


_BLOBS = st.one_of(
    st.binary(min_size=1, max_size=12),
    st.sampled_from([b"\x00", b"\xef\xbb\xbf", b";", b"\t", b"|", b",", b"\n", b"\r", b'"', b'""', b",,,,",
                     "纳税".encode("gbk"), "纳税".encode(), b"\xff\xfe", b"\n\n", b"NaN", b"1e400", b"-0"]),
)
_EDITS = st.lists(st.tuples(st.integers(0, 3), st.integers(0, len(VALID)), _BLOBS), min_size=1, max_size=6)


def _loads_or_refuses(schema_path: Path, path: Path) -> None:
    started = time.monotonic()
    try:
        load_table(schema_path, path)
    except IntakeError as error:
        assert SECRET not in str(error), "a protected value in an intake error"
        assert len(str(error)) < 20_000, "an intake error that grows with the input"
    assert time.monotonic() - started < 20, "intake took too long"


@_FUZZ
@given(edits=_EDITS)
def test_mutated_csv_loads_or_is_refused_as_intake_error(schema_path: Path, tmp_path: Path, edits) -> None:
    path = tmp_path / "mutated.csv"
    path.write_bytes(_mutate(VALID, edits))
    _loads_or_refuses(schema_path, path)


def test_a_gbk_file_a_10_mb_field_and_a_million_column_header_are_refused_quickly(schema_path: Path,
                                                                                  tmp_path: Path) -> None:
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(VALID.decode().replace("A,", "甲级,", 1).encode("gbk"))
    huge = tmp_path / "huge.csv"
    lines = VALID.split(b"\n")
    lines[2] = lines[2].replace(b",", b"," + b"9" * (10 << 20) + b",", 1)
    huge.write_bytes(b"\n".join(lines))
    wide = tmp_path / "wide.csv"
    wide.write_bytes(b",".join(b"c%d" % i for i in range(1_000_000)) + b"\n" + b"1," * 999_999 + b"1\n")
    long_name = tmp_path / "long_name.csv"
    long_name.write_bytes(VALID.replace(b"rating", b"r" * 100_000, 1))
    for path, expected in ((gbk, "not UTF-8"), (huge, "not a readable CSV"), (wide, f"at most {MAX_COLUMNS}"),
                           (long_name, f"longer than {MAX_HEADER_NAME_CHARS}")):
        started = time.monotonic()
        try:
            load_table(schema_path, path)
        except IntakeError as error:
            assert expected in str(error), str(error)[:300]
            assert len(str(error)) < 2_000
        else:
            raise AssertionError(f"{path.name} was loaded")
        assert time.monotonic() - started < 10, f"{path.name} took {time.monotonic() - started:.1f}s"


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


_TYPED = typed_for_storage(make_frame(rows=12))
_TYPED.loc[3, "tax_paid"] = float(SECRET)
PARQUET = _parquet_bytes(pa.Table.from_pandas(_TYPED, preserve_index=False))
# Columns of types no schema column has: lists, structs, binary, zoned timestamps, durations, decimals.
_WRONG_TYPES = [
    pa.array([[1, 2]] * 12), pa.array([{"a": 1}] * 12), pa.array([b"\x00\xff"] * 12),
    pa.array(pd.date_range("2020-01-01", periods=12, tz="Asia/Shanghai")), pa.array([1] * 12, pa.duration("s")),
    pa.array([1] * 12, pa.decimal128(10, 2)), pa.array([float("nan")] * 12), pa.array([None] * 12, pa.null()),
    pa.array([2**62] * 12), pa.array(["x" * 1000] * 12), pa.array([True] * 12),
]


@_FUZZ
@given(cut=st.integers(0, len(PARQUET) - 1), flips=st.lists(st.tuples(st.integers(0, len(PARQUET) - 1),
                                                                     st.integers(1, 255)), max_size=4))
def test_truncated_or_corrupted_parquet_is_refused_as_intake_error(schema_path: Path, tmp_path: Path, cut: int,
                                                                 flips: list[tuple[int, int]]) -> None:
    data = bytearray(PARQUET)
    for at, mask in flips:
        data[at] ^= mask
    path = tmp_path / "broken.parquet"
    path.write_bytes(bytes(data[:cut]) if not flips else bytes(data))
    _loads_or_refuses(schema_path, path)


@_FUZZ
@given(column=st.sampled_from(list(_TYPED.columns)), values=st.sampled_from(_WRONG_TYPES))
def test_parquet_columns_of_the_wrong_type_are_refused_as_intake_error(schema_path: Path, tmp_path: Path,
                                                                      column: str, values: pa.Array) -> None:
    table = pa.Table.from_pandas(_TYPED, preserve_index=False)
    table = table.set_column(table.schema.get_field_index(column), column, values)
    path = tmp_path / "typed.parquet"
    pq.write_table(table, path)
    _loads_or_refuses(schema_path, path)


def test_the_planted_value_is_really_in_the_files(schema_path: Path, tmp_path: Path) -> None:
    """The property tests above would pass vacuously if the secret never reached the loaded table."""
    (tmp_path / "ok.csv").write_bytes(VALID)
    assert float(SECRET) in set(load_table(schema_path, tmp_path / "ok.csv").frame["tax_paid"].dropna())
    assert SCHEMA_TOML and len(PARQUET) > 100
