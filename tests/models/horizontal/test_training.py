from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from models.horizontal import BinEdges, BoostingConfig, DpConfig, LogisticConfig, boosting, logistic
from models.horizontal.binning import local_quantiles
from models.horizontal.errors import InvalidParameterError
from tests.models.horizontal.synthetic import make_table


@pytest.fixture(scope="module")
def expanded():
    table = make_table(3000, seed=1)
    edges = BinEdges.from_quantiles(local_quantiles(table.features, 8))
    return edges.expand(table.features), table.labels


def test_local_training_lowers_the_loss(expanded):
    x, y = expanded
    start = logistic.initial_weights(x.shape[1])
    result = logistic.train_local(start, x, y, LogisticConfig(), np.random.default_rng(0))
    assert result.loss < logistic.log_loss(start, x, y) - 0.05
    assert result.steps == 2 * int(np.ceil(len(y) / 64))


def test_fedprox_keeps_the_local_model_near_the_global_one(expanded):
    x, y = expanded
    anchor = logistic.initial_weights(x.shape[1])
    plain = logistic.train_local(anchor, x, y, LogisticConfig(), np.random.default_rng(0)).weights
    prox = logistic.train_local(anchor, x, y, LogisticConfig(proximal_mu=5.0), np.random.default_rng(0)).weights
    assert np.linalg.norm(prox - anchor) < 0.5 * np.linalg.norm(plain - anchor)
    assert LogisticConfig(proximal_mu=5.0).strategy == "fedprox" and LogisticConfig().strategy == "fedavg"


def test_dp_sgd_still_learns_and_its_noise_is_fresh(expanded):
    x, y = expanded
    start = logistic.initial_weights(x.shape[1])
    dp = DpConfig(noise_multiplier=1.0, clip_norm=1.0)
    a = logistic.train_local(start, x, y, LogisticConfig(), np.random.default_rng(1), dp)
    b = logistic.train_local(start, x, y, LogisticConfig(), np.random.default_rng(2), dp)
    assert not np.allclose(a.weights, b.weights)
    assert roc_auc_score(y, logistic.predict_proba(a.weights, x)) > 0.65


def test_mismatched_shapes_are_refused(expanded):
    x, y = expanded
    with pytest.raises(InvalidParameterError):
        logistic.train_local(np.zeros(3), x, y, LogisticConfig(), np.random.default_rng(0))
    with pytest.raises(InvalidParameterError):
        LogisticConfig(learning_rate=0)


def test_boosting_continues_a_model_with_another_banks_rows():
    a, b = make_table(1500, seed=2), make_table(1500, seed=3)
    config = BoostingConfig(trees_per_round=2, max_depth=2)
    first = boosting.boost(None, a.features, a.labels, config)
    second = boosting.boost(first, b.features, b.labels, config)
    assert boosting.tree_count(first) == 2 and boosting.tree_count(second) == 4
    p = boosting.predict_proba(second, b.features)
    assert np.all((p > 0) & (p < 1)) and roc_auc_score(b.labels, p) > 0.7
