"""Plaintext reference models the demo prints beside the federated one.

Only the demo launcher can compute these: it generated every unit's table, so it may join them in the
clear. No deployment does this; it is how the demo shows what the federation gains without pooling data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xgboost as xgb

from models.metrics import auc, ks
from models.splits import holdout_split
from tables import load_table
from tables.features import feature_matrix


@dataclass(frozen=True)
class Baseline:
    name: str
    features: int
    trees: int
    auc_holdout: float
    ks_holdout: float


def plaintext_baselines(platform: tuple[Path, Path], units: Mapping[str, tuple[Path, Path]], *, label: str,
                        n_trees: int, max_depth: int, learning_rate: float, bins: int, holdout: float = 0.2,
                        seed: int = 0, early_stopping_rounds: int = 0) -> list[Baseline]:
    """XGBoost (hist) on the platform's rows: each unit alone, the platform alone, and everything joined;
    with `early_stopping_rounds` each stops on the holdout AUC, as the federated job does."""
    platform_table = load_table(*platform)
    ids = sorted(str(i) for i in platform_table.ids)
    train_ids, holdout_ids = holdout_split(ids, holdout, seed)
    y = platform_table.frame[label].astype("float64")
    y_train, y_holdout = y.loc[train_ids].to_numpy(), y.loc[holdout_ids].to_numpy()
    blocks = {"platform": feature_matrix(platform_table, exclude=[label], rows=ids)}
    for name, (schema, table) in units.items():
        blocks[name] = feature_matrix(load_table(schema, table), rows=ids)
    position = {cid: i for i, cid in enumerate(ids)}
    rows_train = np.array([position[c] for c in train_ids])
    rows_holdout = np.array([position[c] for c in holdout_ids])

    def fit(name: str, values: np.ndarray) -> Baseline:
        stop = {"early_stopping_rounds": early_stopping_rounds, "eval_metric": "auc"} if early_stopping_rounds else {}
        model = xgb.XGBClassifier(n_estimators=n_trees, max_depth=max_depth, learning_rate=learning_rate,
                                  max_bin=bins, tree_method="hist", reg_lambda=1.0, min_child_weight=1.0,
                                  n_jobs=1, random_state=seed, **stop)
        model.fit(values[rows_train], y_train,
                  **({"eval_set": [(values[rows_holdout], y_holdout)], "verbose": False} if stop else {}))
        trees = model.best_iteration + 1 if stop else n_trees
        scores = model.predict_proba(values[rows_holdout], iteration_range=(0, trees))[:, 1]
        return Baseline(name, values.shape[1], trees, round(auc(y_holdout, scores), 4), round(ks(y_holdout, scores), 4))

    results = [fit(f"{name} only", block.values) for name, block in blocks.items()]
    results.append(fit("all joined (centralised)", np.column_stack([b.values for b in blocks.values()])))
    return results
