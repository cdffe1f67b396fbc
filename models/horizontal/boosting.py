"""Local boosting for cyclic federated XGBoost: each bank in turn adds trees to the shared booster.

The booster travels as XGBoost's own JSON model bytes (no pickle); the aggregator relays it sealed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from models.horizontal.errors import InvalidParameterError

if TYPE_CHECKING:
    import xgboost as xgb


@dataclass(frozen=True)
class BoostingConfig:
    """Trees added per visit and the XGBoost tree parameters (names as in XGBoost)."""

    trees_per_round: int = 3
    max_depth: int = 3
    learning_rate: float = 0.15
    max_bin: int = 32
    reg_lambda: float = 1.0

    def __post_init__(self) -> None:
        if self.trees_per_round < 1 or not 1 <= self.max_depth <= 12 or self.max_bin < 2:
            raise InvalidParameterError("trees_per_round >= 1, max_depth in 1..12, max_bin >= 2")
        if not (math.isfinite(self.learning_rate) and 0 < self.learning_rate <= 1):
            raise InvalidParameterError("learning_rate must be in (0, 1]")

    def xgb_params(self) -> dict[str, object]:
        return {"objective": "binary:logistic", "tree_method": "hist", "max_depth": self.max_depth,
                "eta": self.learning_rate, "max_bin": self.max_bin, "lambda": self.reg_lambda, "nthread": 1,
                "seed": 0}


def _xgb():  # noqa: ANN202
    # Imported on use: 3-4 s of start-up that a ClientApp process serving a logistic run does not need
    # (Flower starts a fresh process for every message).
    import xgboost

    return xgboost


def _booster(model: bytes) -> xgb.Booster:
    xgb = _xgb()
    booster = xgb.Booster(params={"nthread": 1})
    booster.load_model(bytearray(model))
    return booster


def boost(model: bytes | None, features: np.ndarray, labels: np.ndarray, config: BoostingConfig) -> bytes:
    """Continue boosting `model` (None: start afresh) with this bank's rows; returns the new JSON model."""
    xgb = _xgb()
    data = xgb.DMatrix(features, label=labels)
    booster = xgb.train(config.xgb_params(), data, num_boost_round=config.trees_per_round,
                        xgb_model=None if model is None else _booster(model))
    return bytes(booster.save_raw(raw_format="json"))


def predict_proba(model: bytes, features: np.ndarray) -> np.ndarray:
    return _booster(model).predict(_xgb().DMatrix(features))


def tree_count(model: bytes) -> int:
    return _booster(model).num_boosted_rounds()
