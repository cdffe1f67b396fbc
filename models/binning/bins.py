"""The bins of one variable: private cut points held by the variable's owner, and bin assignment.

Bins are right-closed intervals (-inf, c0], (c0, c1], ..., (c_last, +inf), numbered 0..K-1 in order;
missing values (NaN) fall into one extra bin numbered K when the variable has one. Only the owner ever
holds the cut points: other parties see bin indices and counts, never thresholds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from errors import InvalidInput


class BinningError(InvalidInput):
    """Values or a merge plan that the bins cannot accept."""


@dataclass(frozen=True)
class VariableBins:
    """Cut points of one numeric variable and whether it has a bin for missing values."""

    cuts: tuple[float, ...]
    has_missing: bool = False

    def __post_init__(self) -> None:
        cuts = np.asarray(self.cuts, dtype=np.float64)
        if not np.all(np.isfinite(cuts)):
            raise BinningError("cut points must be finite")
        if cuts.size > 1 and not np.all(np.diff(cuts) > 0):
            raise BinningError("cut points must be strictly increasing")

    @property
    def value_bins(self) -> int:
        """Bins of non-missing values."""
        return len(self.cuts) + 1

    @property
    def n_bins(self) -> int:
        """All bins, the missing bin included."""
        return self.value_bins + int(self.has_missing)

    @property
    def missing_bin(self) -> int | None:
        """Index of the missing-value bin, if any."""
        return self.value_bins if self.has_missing else None

    @classmethod
    def quantile(cls, values: np.ndarray, n_bins: int) -> VariableBins:
        """Equal-frequency bins: cut points at interior quantiles that are observed values (ties collapse
        bins, so there may be fewer than `n_bins`); a missing bin exists when any value is NaN."""
        if n_bins < 1:
            raise BinningError(f"n_bins={n_bins} must be >= 1")
        x = np.asarray(values, dtype=np.float64).ravel()
        missing = np.isnan(x)
        present = x[~missing]
        if np.any(np.isinf(present)):
            raise BinningError("values contain infinity")
        if present.size == 0:
            return cls((), bool(missing.any()))
        quantiles = np.quantile(present, np.linspace(0.0, 1.0, n_bins + 1)[1:-1], method="lower")
        cuts = np.unique(quantiles)
        # A cut at the maximum would leave its upper bin empty under right-closed intervals.
        cuts = cuts[cuts < present.max()]
        return cls(tuple(float(c) for c in cuts), bool(missing.any()))

    def assign(self, values: np.ndarray) -> np.ndarray:
        """The bin index (int64) of every value; NaN goes to the missing bin (refused if there is none)."""
        x = np.asarray(values, dtype=np.float64).ravel()
        missing = np.isnan(x)
        if missing.any() and not self.has_missing:
            raise BinningError("a value is missing but these bins have no missing bin")
        index = np.searchsorted(np.asarray(self.cuts, dtype=np.float64), x, side="left").astype(np.int64)
        if self.has_missing:
            index[missing] = self.value_bins
        return index

    def merged(self, groups: Sequence[int]) -> VariableBins:
        """Merge adjacent bins: `groups[k]` is the new index of old bin k (the missing bin, if any, last).

        Groups must start at 0 and step by 0 or 1 over the value bins; the missing bin stays on its own.
        """
        g = [int(v) for v in groups]
        if len(g) != self.n_bins:
            raise BinningError(f"{len(g)} group entries for {self.n_bins} bins")
        values = g[: self.value_bins]
        if values[0] != 0 or any(b - a not in (0, 1) for a, b in zip(values, values[1:], strict=False)):
            raise BinningError("value bins may only merge with adjacent bins, in order")
        if self.has_missing and g[-1] != values[-1] + 1:
            raise BinningError("the missing bin must stay a bin of its own, numbered last")
        kept = [cut for k, cut in enumerate(self.cuts) if values[k + 1] != values[k]]
        return VariableBins(tuple(kept), self.has_missing)
