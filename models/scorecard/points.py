"""Per-variable points tables, each held by the variable's owner, and a party's part of a score.

With a logistic regression of the default flag on WOE features, ln(odds of default) = b + sum_j beta_j WOE_j,
so ln(good:bad) = -b - sum_j beta_j WOE_j and

    score = (offset - factor * b)  +  sum_j  -factor * beta_j * WOE_j(bin)
            `-- base points (guest) --'      `-- points of variable j (its owner) --'

Points lost by a variable = its best attainable points minus the points of the row's bin.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from models.binning import VariableBins
from models.hetero_lr import LrModel
from models.scorecard.params import ScorecardError, ScorecardParams
from models.woe import OwnedVariable


@dataclass(frozen=True, eq=False)
class VariablePoints:
    """Points per bin of one variable (the owner keeps the bins, i.e. the cut points)."""

    name: str
    category: str
    bins: VariableBins
    points: np.ndarray

    def __post_init__(self) -> None:
        if self.points.shape != (self.bins.n_bins,):
            raise ScorecardError(f"{self.name}: {self.points.size} points for {self.bins.n_bins} bins")

    @property
    def best(self) -> float:
        """The most points this variable can give."""
        return float(self.points.max())

    def of(self, values: np.ndarray) -> np.ndarray:
        """Points of every value."""
        return self.points[self.bins.assign(values)]

    def describe(self) -> list[tuple[str, float]]:
        """(bin label, points) lines for display, e.g. ('(1.5, 3.0]', 12.4)."""
        edges = [-np.inf, *self.bins.cuts, np.inf]
        labels = [f"({edges[k]:g}, {edges[k + 1]:g}]" for k in range(self.bins.value_bins)]
        if self.bins.has_missing:
            labels.append("missing")
        return list(zip(labels, self.points.tolist(), strict=True))


@dataclass(frozen=True)
class PartyScores:
    """One party's answer for a batch: points per row and points lost per row and category."""

    points: np.ndarray
    categories: tuple[str, ...]
    lost: np.ndarray  # (rows, categories)
    found: np.ndarray  # (rows,) bool
    mean_points: float = 0.0  # online scoring: the party's training mean and spread of points (aggregates)
    spread_points: float = 0.0


class PartyScorecard:
    """A party's variables with their points; scores rows of its own data."""

    def __init__(self, variables: Sequence[VariablePoints]) -> None:
        names = [v.name for v in variables]
        if len(set(names)) != len(names):
            raise ScorecardError("variable names must be unique")
        self.variables = list(variables)

    @classmethod
    def from_model(cls, binned: Sequence[OwnedVariable], model: LrModel, params: ScorecardParams) -> PartyScorecard:
        """Points = -factor * beta * WOE for every variable of `model` (a model trained on WOE features)."""
        by_name = {v.name: v for v in binned}
        variables = []
        for name, beta in zip(model.variables, model.weights.tolist(), strict=True):
            variable = by_name.get(name)
            if variable is None or variable.woe is None:
                raise ScorecardError(f"no WOE bins for model variable {name!r}")
            variables.append(VariablePoints(name, variable.category, variable.bins,
                                            -params.factor * beta * variable.woe))
        return cls(variables)

    @property
    def categories(self) -> tuple[str, ...]:
        """The data categories of this party's variables, in first-seen order."""
        return tuple(dict.fromkeys(v.category for v in self.variables))

    def per_variable(self, features: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(points, lost) per row and variable, both shaped (rows, variables)."""
        points = np.column_stack([v.of(np.asarray(features[v.name], dtype=np.float64)) for v in self.variables])
        best = np.array([v.best for v in self.variables])
        return points, best - points

    def score(self, features: Mapping[str, np.ndarray], found: np.ndarray | None = None) -> PartyScores:
        """This party's points and per-category lost points for rows of its own data; rows not `found`
        score 0 points (the population average, WOE 0) and lose nothing."""
        points, lost = self.per_variable(features)
        rows = points.shape[0]
        present = np.ones(rows, dtype=bool) if found is None else np.asarray(found, dtype=bool)
        categories = self.categories
        by_category = np.column_stack([
            lost[:, [v.category == c for v in self.variables]].sum(axis=1) for c in categories])
        return PartyScores(np.where(present, points.sum(axis=1), 0.0), categories,
                           np.where(present[:, None], by_category, 0.0), present)


def base_points(guest_model: LrModel, params: ScorecardParams) -> float:
    """The guest's constant share of every score: offset - factor * intercept."""
    return params.offset - params.factor * guest_model.intercept
