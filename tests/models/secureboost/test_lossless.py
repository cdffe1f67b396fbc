"""Lossless: encryption on (Paillier or OU) and off give the very same trees, and the model matches XGBoost."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from models.metrics import auc
from models.secureboost import FeatureTable, SecureBoostParams
from models.secureboost.local import train_in_process
from tests.models.secureboost.support import fate_pair, same_trees, synthetic

KEYS = {"platform/main": b"k" * 32, "source/tax": b"t" * 32, "source/power": b"p" * 32}


@pytest.mark.parametrize("scheme", ["paillier", "ou"])
def test_encrypted_training_equals_plain_training_bit_for_bit(scheme: str, request: pytest.FixtureRequest) -> None:
    y, active, passives = synthetic(500, seed=3, missing_rate=0.05)
    params = SecureBoostParams(n_trees=3, max_depth=3, bins=16, encryption=False, seed=11,
                               subsample=0.8, colsample_bytree=0.7)
    plain = train_in_process(params, y, active, passives, split_keys=KEYS, timeout=60)
    keys = request.getfixturevalue("paillier_1024" if scheme == "paillier" else "ou_1536")
    encrypted = train_in_process(dataclasses.replace(params, encryption=True), y, active, passives,
                                 secret=keys.secret, split_keys=KEYS, allow_insecure_for_tests=True, timeout=60)
    same_trees(plain.active, encrypted.active)
    assert {p: m.rules for p, m in plain.passives.items()} == {p: m.rules for p, m in encrypted.passives.items()}
    owners = {owner for tree in plain.active.trees for owner, _, _ in tree.splits.values()}
    assert owners == {"platform/main", "source/tax", "source/power"}  # every party won some split
    assert sum(len(t.splits) for t in plain.active.trees) >= 9


def _xgboost_auc(y: np.ndarray, X: np.ndarray, params: SecureBoostParams) -> float:
    xgb = pytest.importorskip("xgboost")
    booster = xgb.train({"tree_method": "hist", "max_depth": params.max_depth, "eta": params.learning_rate,
                         "max_bin": params.bins, "lambda": params.reg_lambda, "gamma": params.gamma,
                         "min_child_weight": params.min_child_weight, "objective": "binary:logistic",
                         "base_score": float(np.mean(y)), "nthread": 1},
                        xgb.DMatrix(X, label=y), num_boost_round=params.n_trees)
    return auc(y, booster.predict(xgb.DMatrix(X)))


@pytest.mark.parametrize(("data", "rows", "trees"), [("breast", None, 10), ("default_credit", 6000, 10)])
def test_train_auc_matches_plaintext_xgboost(data: str, rows: int | None, trees: int) -> None:
    y, guest, host = fate_pair(data, rows)
    params = SecureBoostParams(n_trees=trees, max_depth=3, bins=32, learning_rate=0.3, encryption=False)
    result = train_in_process(params, y, guest, {"source/host": host}, timeout=60)
    ours = auc(y, result.active.predict(guest, {"source/host": result.passives["source/host"].leaf_masks(host)}))
    theirs = _xgboost_auc(y, np.hstack([guest.values, host.values]), params)
    assert abs(ours - theirs) <= 0.005, (ours, theirs)


def test_two_passive_parties_train_the_same_model_as_one_holding_both_tables() -> None:
    y, active, passives = synthetic(600, seed=5, missing_rate=0.03)
    params = SecureBoostParams(n_trees=4, max_depth=3, bins=16, encryption=False, seed=2, gamma=0.5)
    key = {"platform/main": b"k" * 32, "source/tax": b"s" * 32, "source/power": b"s" * 32, "source/all": b"s" * 32}
    split = train_in_process(params, y, active, passives, split_keys=key, timeout=60)
    tax, power = passives["source/tax"], passives["source/power"]
    merged = FeatureTable(tax.names + power.names, np.hstack([tax.values, power.values]))
    joined = train_in_process(params, y, active, {"source/all": merged}, split_keys=key, timeout=60)
    assert len(split.active.trees) == len(joined.active.trees) == 4
    for a, b in zip(split.active.trees, joined.active.trees, strict=True):
        assert dict(a.leaves) == dict(b.leaves)
        rename = {"source/tax": "source/all", "source/power": "source/all"}
        assert {n: (rename.get(o, o), s, g) for n, (o, s, g) in a.splits.items()} == dict(b.splits)
    owners = {o for tree in split.active.trees for o, _, _ in tree.splits.values()}
    assert {"source/tax", "source/power"} <= owners
    rules_split = {**split.passives["source/tax"].rules, **split.passives["source/power"].rules}
    assert rules_split == joined.passives["source/all"].rules
