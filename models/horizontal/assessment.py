"""Score one applicant with a global model from the variables a bank sends, and say which drove the risk.

`ServableModel.assess` checks the variables against the model's (by name: none missing, none unknown,
all finite), then returns the probability of default (the same numbers as `GlobalModel.predict_proba`),
its log-odds, and each variable's additive contribution to the log-odds (positive: raised the risk):

* logistic: the variable's terms (raw value and bin indicators) at its value minus the same terms at 0,
  the pooled mean of a standardised variable; the contributions add up to margin(x) - margin(0).
* xgboost: TreeSHAP values (XGBoost's `pred_contribs`) against the training average; they add up to the
  margin minus XGBoost's bias term.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from models.horizontal import logistic
from models.horizontal.errors import InvalidParameterError, InvalidVariablesError
from models.horizontal.model_file import GlobalModel

if TYPE_CHECKING:
    import xgboost as xgb

# Log-odds are taken of a probability clipped this far from 0 and 1 (an XGBoost float32 output may be
# exactly 0 or 1).
_PROBABILITY_FLOOR = 1e-12


@dataclass(frozen=True)
class Assessment:
    """One applicant's probability of default, its log-odds, and each variable's contribution to them."""

    probability_of_default: float
    log_odds_of_default: float
    contributions: Mapping[str, float]

    def risk_drivers(self, limit: int) -> tuple[str, ...]:
        """The variables that raised the risk (positive contribution), largest first, at most `limit`."""
        ranked = sorted(((value, name) for name, value in self.contributions.items() if value > 1e-12),
                        key=lambda item: (-item[0], item[1]))
        return tuple(name for _, name in ranked[:limit])


def _load_booster(model: bytes) -> xgb.Booster:
    # Imported on use: a platform serving only logistic models never pays XGBoost's start-up.
    import xgboost

    booster = xgboost.Booster(params={"nthread": 1})
    booster.load_model(bytearray(model))
    return booster


class ServableModel:
    """A `GlobalModel` prepared once for scoring many single applicants (the XGBoost booster parsed once)."""

    def __init__(self, model: GlobalModel) -> None:
        self.model = model
        self._position = {name: j for j, name in enumerate(model.feature_names)}
        if len(self._position) != len(model.feature_names):
            raise InvalidParameterError("a model's variable names must be distinct")
        self._lock = threading.Lock()
        self._booster = None
        if model.kind == "logistic":
            assert model.bin_edges is not None
            edges = model.bin_edges.edges
            # Column j of the expanded row belongs to variable owner[j]: raw values first, then each
            # variable's bin indicators (see BinEdges.expand).
            self._owner = np.array([*range(len(edges)), *(j for j, e in enumerate(edges) for _ in e)])
            self._weights = np.asarray(model.weights, dtype=np.float64)
            self._reference = model.bin_edges.expand(np.zeros((1, len(edges))))[0]
        else:
            self._booster = _load_booster(model.booster)

    @property
    def variables(self) -> tuple[str, ...]:
        return self.model.feature_names

    def row(self, variables: Mapping[str, float]) -> np.ndarray:
        """The applicant as a (1, variables) array in the model's order; InvalidVariablesError names any misfit."""
        missing = tuple(sorted(set(self._position) - set(variables)))
        unknown = tuple(sorted(set(variables) - set(self._position)))
        not_finite = tuple(sorted(n for n, v in variables.items() if n in self._position and not _finite(v)))
        if missing or unknown or not_finite:
            raise InvalidVariablesError(missing, unknown, not_finite)
        row = np.empty((1, len(self._position)))
        for name, j in self._position.items():
            row[0, j] = float(variables[name])
        return row

    def assess(self, variables: Mapping[str, float]) -> Assessment:
        """Probability of default and per-variable contributions for one applicant."""
        row = self.row(variables)
        if self._booster is None:
            expanded = self.model.bin_edges.expand(row)[0]  # type: ignore[union-attr]
            pd = float(logistic.predict_proba(self._weights, expanded[None, :])[0])
            per_column = (expanded - self._reference) * self._weights[:-1]
            contributions = np.bincount(self._owner, weights=per_column, minlength=len(self._position))
        else:
            import xgboost

            data = xgboost.DMatrix(row)
            with self._lock:  # one booster shared by the server's threads
                pd = float(self._booster.predict(data)[0])
                contributions = self._booster.predict(data, pred_contribs=True)[0, :-1]
        clipped = min(max(pd, _PROBABILITY_FLOOR), 1.0 - _PROBABILITY_FLOOR)
        return Assessment(pd, math.log(clipped / (1.0 - clipped)),
                          {name: float(contributions[j]) for name, j in self._position.items()})


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
