"""Declared-schema table intake shared by every data holder: TOML schemas, CSV/Parquet/SQLite loading, validation, quality."""

from importlib import import_module
from typing import Any

# Imported on first use: loading tables needs pandas, which `xyd` should not load to build its parser.
_EXPORTS = {
    "DataValidationError": "tables.errors",
    "IntakeError": "tables.errors",
    "Problem": "tables.errors",
    "ProblemKind": "tables.errors",
    "SchemaError": "tables.errors",
    "ColumnQuality": "tables.quality",
    "TableQuality": "tables.quality",
    "ColumnSchema": "tables.schema",
    "ColumnType": "tables.schema",
    "ExtraColumns": "tables.schema",
    "Sensitivity": "tables.schema",
    "TableSchema": "tables.schema",
    "load_schema": "tables.schema",
    "parse_schema": "tables.schema",
    "LoadedTable": "tables.table",
    "load_table": "tables.table",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)


__all__ = [
    "ColumnQuality",
    "ColumnSchema",
    "ColumnType",
    "DataValidationError",
    "ExtraColumns",
    "IntakeError",
    "LoadedTable",
    "Problem",
    "ProblemKind",
    "SchemaError",
    "Sensitivity",
    "TableQuality",
    "TableSchema",
    "load_schema",
    "load_table",
    "parse_schema",
]
