"""Declared-schema table intake shared by every data holder: TOML schemas, CSV/Parquet/SQLite loading, validation, quality."""

from tables.errors import DataValidationError, IntakeError, Problem, ProblemKind, SchemaError
from tables.quality import ColumnQuality, TableQuality
from tables.schema import (
    ColumnSchema,
    ColumnType,
    ExtraColumns,
    Sensitivity,
    TableSchema,
    load_schema,
    parse_schema,
)
from tables.table import LoadedTable, load_table

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
