"""Schema declarations: the documented TOML format parses; every mistake is a SchemaError naming the rule."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tables import ColumnType, ExtraColumns, SchemaError, Sensitivity, load_schema, load_table
from tests.tables.conftest import SCHEMA_TOML


def test_the_documented_schema_parses(schema_path: Path) -> None:
    schema = load_schema(schema_path)
    assert schema.name == "tax" and schema.id_column == "credit_code" and schema.category == "tax"
    assert schema.extra_columns is ExtraColumns.ERROR
    paid = schema.column("tax_paid")
    assert paid.type is ColumnType.FLOAT and paid.min == 0 and paid.max == 1e12 and paid.nullable
    assert paid.sensitivity is Sensitivity.PROTECTED and paid.category == "tax"
    assert schema.column("district").category == "registration"
    assert schema.column("rating").allowed == ("A", "B", "C", "D", "M") and not schema.column("rating").nullable
    established = schema.column("established")
    assert established.min == dt.date(1980, 1, 1) and established.max == dt.date(2025, 12, 31)
    assert len(schema.sha256) == 64


def test_schema_hash_changes_with_the_declaration(schema_path: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.toml"
    other.write_text(SCHEMA_TOML.replace("max = 1e12", "max = 1e13"))
    assert load_schema(other).sha256 != load_schema(schema_path).sha256


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ('type = "float"', 'type = "double"', "type must be one of"),
        ("nullable = true\nsensitivity", "nulable = true\nsensitivity", "unknown keys"),
        ("min = 0\nmax = 1e12", "min = 5\nmax = 1", "greater than max"),
        ('sensitivity = "PUBLIC"\ncategory', 'sensitivity = "SECRET"\ncategory', "sensitivity must be one of"),
        ('name = "rating"\ntype = "string"', 'name = "rating"\ntype = "int"', "allowed values apply to string"),
        ('name = "employees"', 'name = "tax_paid"', "declared twice"),
        ('name = "employees"', 'name = "credit_code"', "must not be declared again"),
        ('id_column = "credit_code"', 'id_column = "credit code"', "must be an identifier"),
        ("min = 1980-01-01", 'min = "yesterday"', "must be a date"),
        ("min = 0\nmax = 1e12", 'min = "0"\nmax = 1e12', "finite number"),
    ],
)
def test_schema_mistakes_are_named(tmp_path: Path, old: str, new: str, reason: str) -> None:
    assert old in SCHEMA_TOML
    path = tmp_path / "bad.toml"
    path.write_text(SCHEMA_TOML.replace(old, new, 1))
    with pytest.raises(SchemaError) as info:
        load_schema(path)
    assert reason in info.value.reason and str(path) in str(info.value)


def test_unreadable_schema_files(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="file not found"):
        load_schema(tmp_path / "none.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[table\nname = 'x'")
    with pytest.raises(SchemaError, match="not valid TOML"):
        load_schema(broken)
    no_columns = tmp_path / "nocols.toml"
    no_columns.write_text('[table]\nname = "t"\nid_column = "id"\ncategory = "c"\n')
    with pytest.raises(SchemaError, match="at least one"):
        load_schema(no_columns)
    with pytest.raises(SchemaError):
        load_table(no_columns, tmp_path / "whatever.csv")
