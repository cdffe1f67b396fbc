"""Tiny trained global models (one logistic, one XGBoost) for serving tests: no Flower run needed."""

from __future__ import annotations

import numpy as np

from models.horizontal import BinEdges, BoostingConfig, GlobalModel, LogisticConfig, boosting, logistic
from models.horizontal.binning import local_quantiles
from models.horizontal.model_file import now_iso
from tests.models.horizontal.synthetic import make_table

# What a run's training record holds (see bank_federation/aggregator.py), bank names included.
TRAINING = {"strategy": "fedavg", "aggregation": "ckks-sum", "rounds": 2, "banks": ["bank-east", "bank-west"],
            "privacy": None, "holdout": {"banks": {"bank-east": {"holdout-auc": 0.7, "holdout-rows": 123.0}},
                                         "holdout_auc": 0.7}}


def logistic_model(rows: int = 600, seed: int = 1) -> GlobalModel:
    table = make_table(rows, seed)
    edges = BinEdges.from_quantiles(local_quantiles(table.features, 5))
    trained = logistic.train_local(logistic.initial_weights(edges.width), edges.expand(table.features), table.labels,
                                   LogisticConfig(local_epochs=4), np.random.default_rng(seed))
    return GlobalModel(kind="logistic", feature_names=table.feature_names, training=TRAINING, created_at=now_iso(),
                       weights=tuple(float(w) for w in trained.weights), bin_edges=edges)


def xgboost_model(rows: int = 600, seed: int = 2) -> GlobalModel:
    table = make_table(rows, seed)
    booster = boosting.boost(None, table.features, table.labels, BoostingConfig(trees_per_round=4))
    return GlobalModel(kind="xgboost", feature_names=table.feature_names, training={**TRAINING, "strategy": "cyclic"},
                       created_at=now_iso(), booster=booster)
