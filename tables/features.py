"""Turn a validated table into a numeric feature matrix (NaN for missing) for the learning algorithms.

Numbers pass through, booleans become 0/1, dates become days since 1970-01-01, categorical strings with a
declared `allowed` list become their position in that list; free-text strings are not features.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tables.schema import ColumnType
from tables.table import LoadedTable


@dataclass(frozen=True)
class FeatureMatrix:
    """Feature names, their data categories and a float64 matrix (rows follow `ids`)."""

    names: tuple[str, ...]
    categories: tuple[str, ...]
    values: np.ndarray
    ids: tuple[str, ...]


def _encode(series: pd.Series, column) -> np.ndarray | None:
    if column.type in (ColumnType.INT, ColumnType.FLOAT):
        return pd.to_numeric(series, errors="coerce").astype("float64").to_numpy(na_value=np.nan)
    if column.type == ColumnType.BOOL:
        return series.astype("float64").to_numpy(na_value=np.nan)
    if column.type == ColumnType.DATE:
        days = (pd.to_datetime(series) - pd.Timestamp("1970-01-01")).dt.days
        return days.astype("float64").to_numpy(na_value=np.nan)
    if column.type == ColumnType.STRING and column.allowed:
        codes = {value: float(i) for i, value in enumerate(column.allowed)}
        return series.map(codes).astype("float64").to_numpy(na_value=np.nan)
    return None


def feature_matrix(table: LoadedTable, *, exclude: Iterable[str] = (), rows: Sequence[str] | None = None
                   ) -> FeatureMatrix:
    """The table's usable features for `rows` (all rows by default; unknown ids become all-NaN rows)."""
    skip = set(exclude)
    frame = table.frame if rows is None else table.frame.reindex(pd.Index(list(rows), dtype=table.frame.index.dtype))
    names, categories, columns = [], [], []
    for column in table.schema.columns:
        if column.name in skip:
            continue
        encoded = _encode(frame[column.name], column)
        if encoded is None:
            continue
        names.append(column.name)
        categories.append(column.category)
        columns.append(encoded)
    values = np.column_stack(columns) if columns else np.empty((len(frame), 0))
    return FeatureMatrix(tuple(names), tuple(categories), values.astype(np.float64), tuple(str(i) for i in frame.index))


class FeatureIndex:
    """A table encoded once, for online scoring: `rows(ids)` is an array gather, not a pandas reindex.

    Unknown ids come back as all-NaN rows, exactly as `feature_matrix(table, rows=ids)` gives them.
    """

    def __init__(self, table: LoadedTable, *, exclude: Iterable[str] = ()) -> None:
        self._full = feature_matrix(table, exclude=exclude)
        self._position = {cid: i for i, cid in enumerate(self._full.ids)}
        self._missing = np.full(len(self._full.names), np.nan)

    @property
    def names(self) -> tuple[str, ...]:
        return self._full.names

    def rows(self, ids: Sequence[str]) -> FeatureMatrix:
        """The features of `ids`, in that order."""
        positions = np.fromiter((self._position.get(str(cid), -1) for cid in ids), dtype=np.int64, count=len(ids))
        values = self._full.values[np.clip(positions, 0, None)] if len(self._full.values) else \
            np.empty((len(ids), len(self._full.names)))
        values = np.array(values, dtype=np.float64)
        values[positions < 0] = self._missing
        return FeatureMatrix(self._full.names, self._full.categories, values, tuple(str(c) for c in ids))
