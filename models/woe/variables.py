"""A party's variables before and after federated binning: fine quantile bins, then merged bins with WOE."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from models.binning import BinningError, VariableBins
from models.woe.woe_iv import WoeTable


@dataclass(frozen=True)
class FineBins:
    """One variable cut into fine quantile bins: its private cuts, the bin of every row and bin sizes."""

    name: str
    variable_id: str
    category: str
    bins: VariableBins
    index: np.ndarray
    totals: np.ndarray


def fine_bins(features: Mapping[str, np.ndarray], *, n_bins: int, categories: Mapping[str, str] | str,
              rows: int | None = None) -> list[FineBins]:
    """Quantile-bin every column of `features` (name -> aligned values); ids are v0, v1, ... in order."""
    out = []
    for k, (name, values) in enumerate(features.items()):
        x = np.asarray(values, dtype=np.float64).ravel()
        if rows is not None and x.size != rows:
            raise BinningError(f"variable {name!r} has {x.size} rows, the job has {rows}")
        bins = VariableBins.quantile(x, n_bins)
        index = bins.assign(x)
        category = categories if isinstance(categories, str) else categories.get(name, "other")
        totals = np.bincount(index, minlength=bins.n_bins).astype(np.float64)
        out.append(FineBins(name, f"v{k}", category, bins, index, totals))
    return out


@dataclass(frozen=True)
class OwnedVariable:
    """A variable after binning, as its owner holds it: merged cut points and, if shared, WOE per bin."""

    name: str
    variable_id: str
    category: str
    bins: VariableBins
    woe: np.ndarray | None
    iv: float
    rank: int
    selected: bool

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Replace every value by the WOE of its bin (needs the WOE, i.e. a job that shares it)."""
        if self.woe is None:
            raise BinningError(f"the WOE of {self.name!r} was not shared with its owner")
        return self.woe[self.bins.assign(values)]


@dataclass(frozen=True)
class VariableReport:
    """A variable as the label holder sees it: owner, ids, counts, WOE and IV, never cut points
    (except for its own variables, where `bins` is set)."""

    owner: str
    variable_id: str
    name: str | None
    category: str
    groups: tuple[int, ...]
    table: WoeTable
    rank: int
    selected: bool
    bins: VariableBins | None = None

    @property
    def iv(self) -> float:
        """Information value after merging."""
        return self.table.iv


def woe_matrix(variables: list[OwnedVariable], features: Mapping[str, np.ndarray], *,
               selected_only: bool = True) -> tuple[list[str], np.ndarray]:
    """WOE-transform a party's columns: the chosen variable names and an (n, k) matrix."""
    chosen = [v for v in variables if v.selected or not selected_only]
    if not chosen:
        return [], np.zeros((len(next(iter(features.values()))) if features else 0, 0))
    columns = [v.transform(np.asarray(features[v.name], dtype=np.float64)) for v in chosen]
    return [v.name for v in chosen], np.column_stack(columns)
