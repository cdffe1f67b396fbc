"""Declared-schema table intake shared by every data holder: TOML schemas, CSV/Parquet/SQLite loading, validation, quality.

Names load on first use (PEP 562): `xyd source validate --help` must not import pandas.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {
    **dict.fromkeys(("DataValidationError", "IntakeError", "Problem", "ProblemKind", "SchemaError"), "tables.errors"),
    **dict.fromkeys(("ColumnQuality", "TableQuality"), "tables.quality"),
    **dict.fromkeys(("ColumnSchema", "ColumnType", "ExtraColumns", "Sensitivity", "TableSchema", "load_schema",
                     "parse_schema"), "tables.schema"),
    **dict.fromkeys(("LoadedTable", "load_table"), "tables.table"),
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_WHERE[name]), name)
    globals()[name] = value
    return value
