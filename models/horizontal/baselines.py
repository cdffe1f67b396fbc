"""The comparisons a federation is judged against: the same model trained by one party on one table.

`centralized` means on all banks' training rows pooled (what a data lake would give); `single bank`
means on one bank's rows only. Same schedule as a federated run: `rounds` passes of the local trainer.
"""

from __future__ import annotations

import numpy as np

from models.horizontal import boosting, logistic
from models.horizontal.binning import BinEdges, local_quantiles
from models.horizontal.boosting import BoostingConfig
from models.horizontal.data import BankTable
from models.horizontal.logistic import LogisticConfig


def fit_logistic(table: BankTable, config: LogisticConfig, rounds: int, bins: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, BinEdges]:
    """Bins from this table's own quantiles, then `rounds` x `local_epochs` epochs of SGD."""
    edges = BinEdges.from_quantiles(local_quantiles(table.features, bins))
    features = edges.expand(table.features)
    weights = logistic.initial_weights(edges.width)
    for _ in range(rounds):
        weights = logistic.train_local(weights, features, table.labels, config, rng).weights
    return weights, edges


def fit_boosting(table: BankTable, config: BoostingConfig, rounds: int) -> bytes:
    """`rounds` x `trees_per_round` trees on this table alone."""
    model = None
    for _ in range(rounds):
        model = boosting.boost(model, table.features, table.labels, config)
    assert model is not None
    return model
