"""Source-node data intake: declared TOML schemas, loading from CSV/Parquet/SQLite, validation, quality figures."""

from source_node.intake.errors import DataValidationError, IntakeError, Problem, ProblemKind, SchemaError
from source_node.intake.quality import ColumnQuality, TableQuality
from source_node.intake.schema import (
    ColumnSchema,
    ColumnType,
    ExtraColumns,
    Sensitivity,
    TableSchema,
    load_schema,
    parse_schema,
)
from source_node.intake.table import LoadedTable, load_table

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
