"""Softmax (multi-output trees, every class of a row in one ciphertext) and squared-error regression: lossless
against plain training and against XGBoost with the same parameters, predicted and served like the binary model."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from models.secureboost import (
    ActiveModel,
    FeatureTable,
    InvalidDataError,
    InvalidParameterError,
    SecureBoostParams,
)
from models.secureboost.local import train_in_process
from models.secureboost.mask_plan import MaskCombiner
from models.secureboost.metrics import mlogloss
from models.secureboost.objective import adverse_probability, check_labels, transform
from models.secureboost.params import Objective
from tests.models.secureboost.support import fate_pair, predict_by_traversal, same_trees, synthetic

KEYS = {"platform/main": b"k" * 32, "source/tax": b"t" * 32, "source/power": b"p" * 32}
MULTI = SecureBoostParams(n_trees=2, max_depth=3, bins=16, encryption=False, seed=3,
                          objective="multi:softprob", num_class=3)


def _three_classes(n: int, seed: int, missing_rate: float = 0.0) -> tuple[np.ndarray, FeatureTable, dict]:
    """Graded outcomes from the synthetic tables: 0 repaid, 1 late, 2 defaulted (by a noisy risk index)."""
    y, active, passives = synthetic(n, seed=seed, missing_rate=missing_rate)
    rng = np.random.default_rng(seed)
    tax = np.nan_to_num(passives["source/tax"].values[:, 1])
    grade = np.where(y == 0, 0, np.where(tax + rng.normal(scale=0.5, size=n) > 0, 2, 1))
    return grade.astype(float), active, passives


@pytest.mark.parametrize("scheme", ["paillier", "ou"])
def test_encrypted_softmax_training_equals_plain_training_bit_for_bit(scheme: str,
                                                                      request: pytest.FixtureRequest) -> None:
    y, active, passives = _three_classes(300, seed=4, missing_rate=0.05)
    plain = train_in_process(MULTI, y, active, passives, split_keys=KEYS, timeout=60)
    keys = request.getfixturevalue("paillier_1024" if scheme == "paillier" else "ou_1536")
    encrypted = train_in_process(dataclasses.replace(MULTI, encryption=True), y, active, passives,
                                 secret=keys.secret, split_keys=KEYS, allow_insecure_for_tests=True, timeout=60)
    same_trees(plain.active, encrypted.active)
    assert {p: m.rules for p, m in plain.passives.items()} == {p: m.rules for p, m in encrypted.passives.items()}
    leaf = next(iter(plain.active.trees[0].leaves.values()))
    assert isinstance(leaf, tuple) and len(leaf) == 3  # one tree per round, a vector in every leaf


def test_softmax_costs_one_ciphertext_per_row_whatever_the_classes(paillier_1024) -> None:
    # Gradients of every class share a row's ciphertext: the traffic grows with the packed replies only.
    y, active, passives = _three_classes(300, seed=6)
    binary = dataclasses.replace(MULTI, objective="binary:logistic", num_class=0, encryption=True)
    runs = {}
    for name, params, labels in (("binary", binary, (y > 0).astype(float)),
                                 ("softmax", dataclasses.replace(MULTI, encryption=True), y)):
        runs[name] = train_in_process(params, labels, active, passives, secret=paillier_1024.secret,
                                      allow_insecure_for_tests=True, timeout=60).bytes_on_wire()
    gradient_bytes = 2 * 2 * 300 * 256  # trees x passive parties x rows x one 2048-bit ciphertext
    assert runs["binary"] > gradient_bytes and runs["softmax"] < 1.5 * runs["binary"], runs


def _xgboost(X: np.ndarray, y: np.ndarray, params: SecureBoostParams, extra: dict, base: np.ndarray):
    xgb = pytest.importorskip("xgboost")
    data = xgb.DMatrix(X, label=y)
    data.set_base_margin(base)
    booster = xgb.train({"tree_method": "hist", "max_depth": params.max_depth, "eta": params.learning_rate,
                         "max_bin": params.bins, "lambda": params.reg_lambda, "min_child_weight": params.min_child_weight,
                         "nthread": 1, **extra}, data, num_boost_round=params.n_trees)
    return booster.predict(data)


def test_softmax_matches_xgboost_multi_output_trees() -> None:
    from sklearn.metrics import roc_auc_score

    y, guest, host = fate_pair("default_credit", 6000)
    grade = np.where(y == 0, 0, np.where(host.values[:, 0] > np.median(host.values[:, 0]), 2, 1)).astype(float)
    params = dataclasses.replace(MULTI, n_trees=10, bins=32)
    result = train_in_process(params, grade, guest, {"source/host": host}, timeout=120)
    ours = result.active.predict(guest, {"source/host": result.passives["source/host"].leaf_masks(host)})
    theirs = _xgboost(np.hstack([guest.values, host.values]), grade, params,
                      {"objective": "multi:softprob", "num_class": 3, "multi_strategy": "multi_output_tree"},
                      np.zeros((grade.size, 3)))
    auc_ours, auc_theirs = (roc_auc_score(grade, p, multi_class="ovr") for p in (ours, theirs))
    assert abs(auc_ours - auc_theirs) <= 0.005, (auc_ours, auc_theirs)
    assert abs(mlogloss(grade, ours) - mlogloss(grade, theirs)) <= 0.01


def test_regression_matches_xgboost_within_one_percent_rmse() -> None:
    y, guest, host = fate_pair("default_credit", 6000)
    amount = np.log1p(np.abs(host.values[:, 0])) * 0.5 + 2.0 * y  # an amount-like target held by the platform
    host = FeatureTable(host.names[1:], host.values[:, 1:])
    params = SecureBoostParams(n_trees=10, max_depth=3, bins=32, encryption=False, objective="reg:squarederror")
    result = train_in_process(params, amount, guest, {"source/host": host}, timeout=120)
    ours = result.active.predict(guest, {"source/host": result.passives["source/host"].leaf_masks(host)})
    theirs = _xgboost(np.hstack([guest.values, host.values]), amount, params, {"objective": "reg:squarederror"},
                      np.full(amount.size, result.active.base_margin))
    rmse_ours, rmse_theirs = (float(np.sqrt(np.mean((p - amount) ** 2))) for p in (ours, theirs))
    assert abs(rmse_ours - rmse_theirs) <= 0.01 * rmse_theirs, (rmse_ours, rmse_theirs)


def test_softmax_prediction_serving_and_model_files() -> None:
    y, active, passives = _three_classes(300, seed=8, missing_rate=0.1)
    result = train_in_process(dataclasses.replace(MULTI, n_trees=3), y, active, passives, timeout=60)
    model = ActiveModel.from_bytes(result.active.to_bytes())
    _, new_active, new_passives = _three_classes(200, seed=99, missing_rate=0.2)  # unseen rows, more holes
    masks = {p: m.leaf_masks(new_passives[p]) for p, m in result.passives.items()}
    margin = model.predict_margin(new_active, masks)
    assert margin.shape == (200, 3)
    expected = predict_by_traversal(model, result.passives, {"platform/main": new_active, **new_passives})
    assert np.array_equal(margin, expected)
    probabilities = model.predict(new_active, masks)
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    combined = MaskCombiner(model).combine(new_active, masks)  # the online scoring path
    assert np.array_equal(combined.margin, margin)
    assert set(combined.contributions) == {"platform/main", *passives}
    pd = adverse_probability(model.objective, transform(model.objective, combined.margin))
    assert np.allclose(pd, 1.0 - probabilities[:, 0]) and np.all((pd >= 0) & (pd <= 1))


def test_objective_parameters_and_labels_are_checked() -> None:
    with pytest.raises(InvalidParameterError, match="num_class"):
        SecureBoostParams(objective="multi:softprob")
    with pytest.raises(InvalidParameterError, match="num_class"):
        SecureBoostParams(num_class=3)
    with pytest.raises(InvalidParameterError, match="eval_metric"):
        SecureBoostParams(objective="multi:softprob", num_class=3, eval_metric="auc")
    assert SecureBoostParams(objective="multi:softprob", num_class=4).outputs == 4
    with pytest.raises(InvalidDataError, match="class labels"):
        check_labels(Objective.MULTI_SOFTPROB, np.array([0.0, 1.0, 3.0]), 3)
    with pytest.raises(InvalidDataError, match="class labels"):
        check_labels(Objective.MULTI_SOFTPROB, np.array([0.0, 1.5]), 3)
