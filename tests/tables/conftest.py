"""A small declared table and helpers to write it as CSV, Parquet or SQLite with injected faults."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from consent.credit_code import generate_credit_code

SCHEMA_TOML = """
[table]
name = "tax"
id_column = "credit_code"
category = "tax"

[[columns]]
name = "tax_paid"
type = "float"
min = 0
max = 1e12
nullable = true
sensitivity = "PROTECTED"
description = "tax paid in the last 12 months"

[[columns]]
name = "employees"
type = "int"
min = 0
max = 100000
sensitivity = "PROTECTED"

[[columns]]
name = "rating"
type = "string"
allowed = ["A", "B", "C", "D", "M"]
sensitivity = "PROTECTED"

[[columns]]
name = "district"
type = "string"
sensitivity = "PUBLIC"
category = "registration"

[[columns]]
name = "a_level"
type = "bool"
nullable = true
sensitivity = "PUBLIC"

[[columns]]
name = "penalties"
type = "int"
min = 0
max = 50
sensitivity = "PUBLIC"

[[columns]]
name = "established"
type = "date"
min = 1980-01-01
max = "2025-12-31"
nullable = true
sensitivity = "PUBLIC"
"""


def make_frame(rows: int = 40, seed: int = 0) -> pd.DataFrame:
    """A valid table as strings, the way a CSV holds it."""
    rng = random.Random(seed)
    codes: list[str] = []
    while len(codes) < rows:
        code = generate_credit_code(rng, district=rng.choice(["330106", "330108", "330110"]))
        if code not in codes:
            codes.append(code)
    return pd.DataFrame({
        "credit_code": codes,
        "tax_paid": [f"{rng.uniform(0, 5e6):.2f}" if i % 7 else "" for i in range(rows)],
        "employees": [str(rng.randint(1, 500)) for _ in range(rows)],
        "rating": [rng.choice("ABCDM") for _ in range(rows)],
        "district": [c[2:8] for c in codes],
        "a_level": [rng.choice(["true", "false", ""]) for _ in range(rows)],
        "penalties": [str(rng.randint(0, 5)) for _ in range(rows)],
        "established": [f"{rng.randint(1990, 2024)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
                        for _ in range(rows)],
    }, dtype=object)


def write_csv(frame: pd.DataFrame, path: Path, sep: str = ",") -> Path:
    frame.to_csv(path, index=False, sep=sep)
    return path


def typed_for_storage(frame: pd.DataFrame) -> pd.DataFrame:
    """The same table with native types, as a Parquet file or a database would hold it."""
    out = pd.DataFrame({"credit_code": frame["credit_code"]})
    out["tax_paid"] = pd.to_numeric(frame["tax_paid"].replace("", None))
    out["employees"] = frame["employees"].astype("int64")
    out["rating"] = frame["rating"]
    out["district"] = frame["district"]
    out["a_level"] = frame["a_level"].map({"true": True, "false": False, "": None}).astype("boolean")
    out["penalties"] = frame["penalties"].astype("int64")
    out["established"] = pd.to_datetime(frame["established"]).dt.date
    return out


def write_sqlite(frame: pd.DataFrame, path: Path, table: str = "tax") -> Path:
    connection = sqlite3.connect(path)
    try:
        stored = frame.copy()
        stored["a_level"] = stored["a_level"].astype(object).where(stored["a_level"].notna(), None)
        stored["established"] = stored["established"].map(lambda d: d.isoformat())
        stored.to_sql(table, connection, index=False)
    finally:
        connection.close()
    return path


@pytest.fixture
def schema_path(tmp_path: Path) -> Path:
    path = tmp_path / "tax.toml"
    path.write_text(SCHEMA_TOML)
    return path
