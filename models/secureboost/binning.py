"""Each party's features and their local quantile bins (never shared: only bin sums leave, encrypted).

A value x falls in bin k = number of cut points <= x, so "bin <= k" is exactly "x < edges[k]", the rule
kept in the owner's lookup table. Missing values (NaN) get a dedicated bin after the last real one; split
candidates send them left or right, so a missing value follows the learned default direction (as XGBoost).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.secureboost.errors import InvalidDataError
from models.secureboost.params import MAX_BINS


@dataclass(frozen=True)
class FeatureTable:
    """One party's features for rows aligned with every other party (row i is the same enterprise)."""

    names: tuple[str, ...]
    values: np.ndarray  # float64 (rows, features); NaN marks a missing value

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(str(n) for n in self.names))
        values = np.asarray(self.values, dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != len(self.names):
            raise InvalidDataError(f"values of shape {values.shape} do not match {len(self.names)} feature names")
        if len(set(self.names)) != len(self.names):
            raise InvalidDataError("feature names must be unique")
        if np.any(np.isinf(values)):
            raise InvalidDataError("features must be finite or NaN (missing)")
        values.setflags(write=False)
        object.__setattr__(self, "values", values)

    @classmethod
    def empty(cls, n_rows: int) -> FeatureTable:
        """A party without features (e.g. an active party holding labels only)."""
        return cls((), np.empty((n_rows, 0)))

    @property
    def n_rows(self) -> int:
        return int(self.values.shape[0])

    @property
    def n_features(self) -> int:
        return len(self.names)

    def rows(self, index: Sequence[int] | np.ndarray) -> FeatureTable:
        return FeatureTable(self.names, self.values[np.asarray(index, dtype=np.int64)])

    def column(self, name: str) -> np.ndarray:
        return self.values[:, self.names.index(name)]


@dataclass(frozen=True)
class FeatureBins:
    """Per-feature ascending cut points fitted on the training rows."""

    edges: tuple[np.ndarray, ...]
    has_missing: tuple[bool, ...]

    @classmethod
    def fit(cls, table: FeatureTable, bins: int) -> FeatureBins:
        """Quantile cut points, at most `bins` bins per feature; distinct values get their own bin when few."""
        if not (2 <= bins <= MAX_BINS):
            raise InvalidDataError(f"bins must be in [2, {MAX_BINS}], got {bins}")
        edges, missing = [], []
        for j in range(table.n_features):
            column = table.values[:, j]
            present = column[~np.isnan(column)]
            missing.append(bool(present.size < column.size))
            edges.append(_quantile_edges(present, bins))
        return cls(tuple(edges), tuple(missing))

    def n_bins(self, feature: int) -> int:
        """Bins holding real values; the missing bin has index n_bins(feature)."""
        return int(self.edges[feature].size) + 1

    def transform(self, table: FeatureTable) -> np.ndarray:
        """Bin index of every value, uint16 (rows, features); missing values get the dedicated bin."""
        if table.n_features != len(self.edges):
            raise InvalidDataError(f"{table.n_features} features for {len(self.edges)} fitted ones")
        out = np.empty(table.values.shape, dtype=np.uint16)
        for j, edges in enumerate(self.edges):
            column = table.values[:, j]
            index = np.searchsorted(edges, column, side="right")
            out[:, j] = np.where(np.isnan(column), edges.size + 1, index)
        return out

    def threshold(self, feature: int, last_left_bin: int) -> float:
        """The rule "x < threshold" that sends bins 0..last_left_bin left (-inf: no real value goes left)."""
        if last_left_bin < 0:
            return float("-inf")
        return float(self.edges[feature][last_left_bin])


def _quantile_edges(values: np.ndarray, bins: int) -> np.ndarray:
    distinct = np.unique(values)
    if distinct.size <= bins:
        return distinct[1:].copy()
    cuts = np.quantile(values, np.arange(1, bins) / bins, method="higher")
    cuts = np.unique(cuts)
    # A cut at the minimum would leave an empty first bin.
    return cuts[cuts > distinct[0]]
