"""Aggregate quality figures of a loaded table, safe to publish: no cell values of protected columns ever.

Every column gets its missing rate. Only PUBLIC columns get distribution figures (quantiles of numbers and
dates, the share of true for booleans, the number of distinct strings).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from tables.schema import ColumnType, TableSchema

QUANTILES = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class ColumnQuality:
    name: str
    type: str
    sensitivity: str
    missing_rate: float
    # Only for PUBLIC columns; empty otherwise.
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TableQuality:
    table: str
    rows: int
    columns: tuple[ColumnQuality, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "rows": self.rows,
            "columns": [
                {"name": c.name, "type": c.type, "sensitivity": c.sensitivity, "missing_rate": c.missing_rate,
                 **({"stats": c.stats} if c.stats else {})}
                for c in self.columns
            ],
        }


def measure_quality(schema: TableSchema, frame: pd.DataFrame) -> TableQuality:
    """Compute the publishable figures of a validated frame."""
    rows = len(frame)
    columns = []
    for column in schema.columns:
        series = frame[column.name]
        missing = float(series.isna().mean()) if rows else 0.0
        stats: dict[str, Any] = {}
        present = series.dropna()
        if column.sensitivity.is_public and len(present):
            if column.type in (ColumnType.INT, ColumnType.FLOAT):
                q = present.astype("float64").quantile(list(QUANTILES))
                stats = {f"p{int(k * 100)}": float(v) for k, v in q.items()} | {"mean": float(present.mean())}
            elif column.type is ColumnType.DATE:
                q = present.quantile(list(QUANTILES))
                stats = {f"p{int(k * 100)}": pd.Timestamp(v).date().isoformat() for k, v in q.items()}
            elif column.type is ColumnType.BOOL:
                stats = {"true_rate": float(present.astype(bool).mean())}
            else:
                stats = {"distinct": int(present.nunique())}
        columns.append(ColumnQuality(column.name, column.type.value, column.sensitivity.value, missing, stats))
    return TableQuality(schema.name, rows, tuple(columns))
