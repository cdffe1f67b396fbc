"""What the node can answer about, derived from its declared table schema, and the lookup into its table.

Every declared column except dates becomes an answerable field in its own data category. The table schema
says PUBLIC or PROTECTED; the consent layer needs to know which kind of protected data a field is, so the
node's `[verification] protected_as` setting (default TRADE_SECRET) refines PROTECTED, while columns declared
TRADE_SECRET or PERSONAL keep their own. `period` (e.g. "2025") is the period the table's figures cover.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from consent.authorisation import FieldCatalogue, FieldSpec, Sensitivity, TableLookup, ValueType
from tables import ColumnType, LoadedTable, TableSchema
from tables import Sensitivity as TableSensitivity

_VALUE_TYPES = {
    ColumnType.INT: ValueType.NUMBER,
    ColumnType.FLOAT: ValueType.NUMBER,
    ColumnType.STRING: ValueType.STRING,
    ColumnType.BOOL: ValueType.BOOL,
}


def _sensitivity(declared: TableSensitivity, protected_as: Sensitivity) -> Sensitivity:
    if declared is TableSensitivity.PROTECTED:
        return protected_as
    return Sensitivity(declared.value)


def catalogue_from_schema(
    schema: TableSchema, *, protected_as: Sensitivity = Sensitivity.TRADE_SECRET, period: str | None = None
) -> FieldCatalogue:
    """One field per declared non-date column, in the column's category."""
    if protected_as is Sensitivity.PUBLIC:
        raise ValueError("protected columns cannot be answered as PUBLIC")
    return FieldCatalogue(
        FieldSpec(column.name, column.category, _sensitivity(column.sensitivity, protected_as),
                  _VALUE_TYPES[column.type], period)
        for column in schema.columns
        if column.type in _VALUE_TYPES
    )


def catalogue_from_settings(schema: TableSchema, settings: Mapping[str, object]) -> FieldCatalogue:
    """The catalogue as the `[verification]` section of the node's config asks for it."""
    period = settings.get("period")
    return catalogue_from_schema(
        schema,
        protected_as=Sensitivity(str(settings.get("protected_as", Sensitivity.TRADE_SECRET.value))),
        period=None if period is None else str(period),
    )


def table_lookup(table: LoadedTable) -> TableLookup:
    """`(credit_code, field) -> value` over the loaded frame; a missing enterprise or NA reads as no record."""
    frame = table.frame

    def lookup(credit_code: str, field: str) -> object:
        if credit_code not in frame.index or field not in frame.columns:
            return None
        value = frame.at[credit_code, field]
        if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
            return None
        return value

    return lookup
