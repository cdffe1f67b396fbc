"""The banks' steps and the aggregator's sum, driven directly (no Flower): what each side gets to see."""

from __future__ import annotations

import numpy as np
import pytest

from models.horizontal import (
    AggregateRefusedError,
    AggregatorCkks,
    Bank,
    BankKeyring,
    BoostingConfig,
    DpConfig,
    InvalidParameterError,
    LogisticConfig,
    PrivacyBudgetExceededError,
    SealBrokenError,
    logistic,
    pool_tables,
)
from models.horizontal.baselines import fit_logistic
from models.metrics import auc
from tests.models.horizontal.synthetic import make_table

BINS, ROUNDS = 8, 6
# Converges within ROUNDS on 1200 training rows per bank (the defaults are tuned for ~6400 rows).
FAST = LogisticConfig(learning_rate=0.5, local_epochs=3)


@pytest.fixture(scope="module")
def banks():
    keyring = BankKeyring.generate()
    shared = [keyring, BankKeyring.from_bytes(keyring.to_bytes()), BankKeyring.from_bytes(keyring.to_bytes())]
    return [Bank(f"bank{i}", make_table(1500, seed=10 + i, shift=0.2 * i), shared[i], seed=i) for i in range(3)]


def _federate(banks, config=FAST, privacy=None):
    aggregator = AggregatorCkks(banks[0].setup(BINS).aggregator_context)
    quantiles_sum = aggregator.add([b.setup(BINS).quantiles for b in banks])
    model_sum, rng = None, np.random.default_rng(0)
    for r in range(1, ROUNDS + 1):
        replies = [b.logistic_round(quantiles_sum=quantiles_sum if r == 1 else None, model_sum=model_sum,
                                    round_number=r, bins=BINS,
                                    config=config, privacy=privacy, min_banks=3, rng=rng) for b in banks]
        model_sum = aggregator.add([rep.payload for rep in replies])
    return quantiles_sum, model_sum, replies


def test_federated_logistic_matches_centralized_training(banks):
    _, model_sum, _ = _federate(banks)
    pubs = [b.logistic_publish(model_sum=model_sum, bins=BINS, min_banks=3) for b in banks]
    assert all(np.array_equal(p.weights, pubs[0].weights) and p.bin_edges == pubs[0].bin_edges for p in pubs)
    test = make_table(4000, seed=99, shift=0.2)
    fed = auc(test.labels, logistic.predict_proba(pubs[0].weights, pubs[0].bin_edges.expand(test.features)))
    w, edges = fit_logistic(pool_tables([b.train for b in banks]), FAST, ROUNDS, BINS,
                            np.random.default_rng(0))
    central = auc(test.labels, logistic.predict_proba(w, edges.expand(test.features)))
    assert abs(fed - central) < 0.01
    assert all("holdout-auc" in p.figures and 0.5 < p.figures["holdout-auc"] <= 1 for p in pubs)


def test_a_lone_banks_ciphertext_passed_off_as_the_aggregate_is_refused(banks):
    *_, replies = _federate(banks)
    with pytest.raises(AggregateRefusedError):
        banks[1].logistic_publish(model_sum=replies[0].payload, bins=BINS, min_banks=2)


def test_dp_rounds_report_the_epsilon_spent_so_far_and_stop_at_the_limit(banks):
    dp = DpConfig(noise_multiplier=1.0)
    *_, replies = _federate(banks, privacy=dp)
    eps = replies[0].figures["epsilon"]
    assert 0 < eps < 10
    with pytest.raises(PrivacyBudgetExceededError):
        _federate(banks, privacy=DpConfig(noise_multiplier=1.0, max_epsilon=eps / 2))


def test_cyclic_boosting_seals_the_model_to_its_round(banks):
    config = BoostingConfig(trees_per_round=2, max_depth=2)
    first = banks[0].boosting_round(sealed=None, run_id=7, round_number=1, config=config)
    assert b"learner" not in first.payload  # the relay sees no model JSON
    second = banks[1].boosting_round(sealed=first.payload, run_id=7, round_number=2, config=config)
    assert "holdout-auc" in second.figures
    with pytest.raises(SealBrokenError):  # the aggregator replays round 1's model as if it were round 2's
        banks[2].boosting_round(sealed=first.payload, run_id=7, round_number=3, config=config)
    with pytest.raises(SealBrokenError):  # or carries it into another run
        banks[2].boosting_publish(sealed=second.payload, run_id=8, last_round=2)
    pub = banks[2].boosting_publish(sealed=second.payload, run_id=7, last_round=2)
    assert pub.booster and pub.bin_edges is None


def test_a_round_takes_exactly_one_of_the_deciles_sum_and_the_model_sum(banks):
    quantiles_sum, model_sum, _ = _federate(banks)
    for qs, ms in ((None, None), (quantiles_sum, model_sum)):
        with pytest.raises(InvalidParameterError):
            banks[0].logistic_round(quantiles_sum=qs, model_sum=ms, round_number=1, bins=BINS, config=FAST,
                                    privacy=None, min_banks=2, rng=np.random.default_rng(0))
