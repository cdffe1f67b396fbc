"""Loading tables: formats agree, types come out right, the fingerprint is stable, quality stays aggregate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tables import (
    ColumnType,
    DataValidationError,
    LoadedTable,
    ProblemKind,
    load_schema,
    load_table,
)
from tests.tables.conftest import make_frame, typed_for_storage, write_csv, write_sqlite


def test_csv_loads_with_typed_columns(schema_path: Path, tmp_path: Path) -> None:
    frame = make_frame()
    table = load_table(schema_path, write_csv(frame, tmp_path / "tax.csv"))
    assert isinstance(table, LoadedTable)
    assert len(table) == len(frame)
    assert table.frame.index.name == "credit_code"
    assert list(table.ids) == list(frame["credit_code"])
    assert list(table.frame.columns) == list(table.schema.column_names)
    dtypes = table.frame.dtypes
    assert dtypes["tax_paid"] == np.float64
    assert str(dtypes["employees"]) == "Int64"
    assert str(dtypes["a_level"]) == "boolean"
    assert isinstance(dtypes["rating"], pd.StringDtype)
    assert str(dtypes["established"]).startswith("datetime64")
    assert table.frame["tax_paid"].isna().sum() == (frame["tax_paid"] == "").sum()
    assert table.frame["employees"].tolist() == [int(v) for v in frame["employees"]]


def test_csv_parquet_and_sqlite_give_the_same_content(schema_path: Path, tmp_path: Path) -> None:
    frame = make_frame()
    typed = typed_for_storage(frame)
    typed.to_parquet(tmp_path / "tax.parquet", index=False)
    write_sqlite(typed, tmp_path / "units.db")
    from_csv = load_table(schema_path, write_csv(frame, tmp_path / "tax.csv"))
    from_parquet = load_table(schema_path, tmp_path / "tax.parquet")
    from_url = load_table(schema_path, f"sqlite:///{tmp_path / 'units.db'}?table=tax")
    from_arg = load_table(schema_path, tmp_path / "units.db", table="tax")
    for other in (from_parquet, from_url, from_arg):
        pd.testing.assert_frame_equal(from_csv.frame, other.frame)
        assert other.snapshot_sha256 == from_csv.snapshot_sha256


def test_snapshot_ignores_row_order_but_sees_every_value(schema_path: Path, tmp_path: Path) -> None:
    frame = make_frame()
    base = load_table(schema_path, write_csv(frame, tmp_path / "a.csv")).snapshot_sha256
    shuffled = frame.sample(frac=1.0, random_state=3)
    assert load_table(schema_path, write_csv(shuffled, tmp_path / "b.csv")).snapshot_sha256 == base
    changed = frame.copy()
    changed.loc[5, "employees"] = str(int(changed.loc[5, "employees"]) + 1)
    assert load_table(schema_path, write_csv(changed, tmp_path / "c.csv")).snapshot_sha256 != base
    blanked = frame.copy()
    blanked.loc[3, "a_level"] = "" if blanked.loc[3, "a_level"] else "true"
    assert load_table(schema_path, write_csv(blanked, tmp_path / "d.csv")).snapshot_sha256 != base


def test_quality_is_aggregate_and_hides_protected_values(schema_path: Path, tmp_path: Path) -> None:
    frame = make_frame(rows=60)
    table = load_table(schema_path, write_csv(frame, tmp_path / "tax.csv"))
    quality = table.quality()
    assert quality.rows == 60
    by_name = {c.name: c for c in quality.columns}
    assert by_name["tax_paid"].missing_rate == pytest.approx((frame["tax_paid"] == "").mean())
    for name in ("tax_paid", "employees", "rating"):
        assert by_name[name].stats == {}, name  # PROTECTED: missing rate only
    penalties = frame["penalties"].astype(int)
    assert by_name["penalties"].stats["p50"] == pytest.approx(penalties.median())
    assert by_name["penalties"].stats["p100"] == penalties.max()
    assert by_name["district"].stats == {"distinct": frame["district"].nunique()}
    text = json.dumps(quality.to_dict())
    for value in frame["tax_paid"]:
        if value:
            assert value not in text


def test_published_schema_names_columns_and_never_values(schema_path: Path, tmp_path: Path) -> None:
    frame = make_frame()
    table = load_table(schema_path, write_csv(frame, tmp_path / "tax.csv"))
    published = table.published_schema()
    assert published["table"] == "tax" and published["id_column"] == "credit_code"
    assert published["schema_sha256"] == load_schema(schema_path).sha256
    columns = {c["name"]: c for c in published["columns"]}
    assert set(columns) == set(table.schema.column_names)
    assert columns["district"]["sensitivity"] == "PUBLIC" and columns["district"]["category"] == "registration"
    assert columns["tax_paid"]["type"] == ColumnType.FLOAT.value and columns["tax_paid"]["category"] == "tax"
    text = json.dumps(published)
    for value in [*frame["credit_code"], *frame["tax_paid"][frame["tax_paid"] != ""]]:
        assert value not in text
    for column in published["columns"]:
        assert not {"min", "max", "allowed"} & set(column)


def test_extra_columns_refused_by_default_and_dropped_when_declared(schema_path: Path, tmp_path: Path) -> None:
    frame = make_frame()
    frame["secret_note"] = "x"
    path = write_csv(frame, tmp_path / "tax.csv")
    with pytest.raises(DataValidationError) as info:
        load_table(schema_path, path)
    assert info.value.kinds == {ProblemKind.UNKNOWN_COLUMNS}
    assert "secret_note" in str(info.value)
    lenient = tmp_path / "lenient.toml"
    lenient.write_text(schema_path.read_text().replace('category = "tax"\n', 'category = "tax"\nextra_columns = "ignore"\n', 1))
    table = load_table(lenient, path)
    assert "secret_note" not in table.frame.columns
    assert table.snapshot_sha256 == load_table(schema_path, write_csv(make_frame(), tmp_path / "plain.csv")).snapshot_sha256


def test_column_order_in_the_file_does_not_matter(schema_path: Path, tmp_path: Path) -> None:
    frame = make_frame()
    reordered = frame[list(reversed(frame.columns))]
    a = load_table(schema_path, write_csv(frame, tmp_path / "a.csv"))
    b = load_table(schema_path, write_csv(reordered, tmp_path / "b.csv"))
    assert a.snapshot_sha256 == b.snapshot_sha256
    assert list(b.frame.columns) == list(a.schema.column_names)
