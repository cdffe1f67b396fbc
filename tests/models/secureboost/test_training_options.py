"""The knobs a modeller expects: early stopping, regression, GOSS, subsampling, column sampling, weights."""

from __future__ import annotations

import numpy as np
import pytest

from federation.proto import secureboost_pb2 as pb
from models.metrics import auc
from models.secureboost import FeatureTable, SecureBoostParams, Validation
from models.secureboost.local import train_in_process
from models.secureboost.metrics import rmse
from tests.models.secureboost.support import predict_by_traversal, synthetic


def _margins(result, active, passives) -> np.ndarray:
    return result.active.predict_margin(active, {p: m.leaf_masks(passives[p]) for p, m in result.passives.items()})


def test_early_stopping_keeps_the_best_trees_on_every_party() -> None:
    y, active, passives = synthetic(400, seed=21)
    vy, vactive, vpassives = synthetic(300, seed=22)
    params = SecureBoostParams(n_trees=40, max_depth=4, learning_rate=1.0, bins=16, min_child_weight=0.1,
                               early_stopping_rounds=3, encryption=False)
    result = train_in_process(params, y, active, passives, validation=Validation(vactive, vy),
                              passive_validation=vpassives, timeout=60)
    scores = [r.valid_score for r in result.history]
    assert len(scores) < 40
    best = int(np.argmax(scores))
    assert len(scores) == best + 1 + 3
    assert len(result.active.trees) == best + 1
    assert all(len(m.trees) == best + 1 for m in result.passives.values())
    assert auc(vy, _margins(result, vactive, vpassives)) == pytest.approx(scores[best], abs=1e-12)


def test_squared_error_regression_tracks_xgboost() -> None:
    xgb = pytest.importorskip("xgboost")
    _, active, passives = synthetic(500, seed=31)
    target = 3 * active.values[:, 0] + np.nan_to_num(passives["source/tax"].values[:, 1]) ** 2 + 10.0
    params = SecureBoostParams(n_trees=8, max_depth=3, bins=32, objective="reg:squarederror", encryption=False)
    result = train_in_process(params, target, active, passives, timeout=60)
    ours = rmse(target, _margins(result, active, passives))
    X = np.hstack([active.values, *(t.values for t in passives.values())])
    booster = xgb.train({"tree_method": "hist", "max_depth": 3, "eta": 0.3, "max_bin": 32,
                         "objective": "reg:squarederror", "base_score": float(target.mean()), "nthread": 1},
                        xgb.DMatrix(X, label=target), num_boost_round=8)
    theirs = rmse(target, booster.predict(xgb.DMatrix(X)))
    assert ours < 0.5 * np.std(target)
    assert abs(ours - theirs) <= 0.05 * theirs


@pytest.mark.parametrize("sampling", [{"subsample": 0.6}, {"goss_top_rate": 0.2, "goss_other_rate": 0.2}])
def test_row_sampling_still_routes_every_training_row(sampling: dict) -> None:
    y, active, passives = synthetic(400, seed=41)
    params = SecureBoostParams(n_trees=4, max_depth=3, bins=16, encryption=False, seed=3, **sampling)
    result = train_in_process(params, y, active, passives, timeout=60)
    counts = {pb.TreeStart.FromString(payload).n_values
              for _, _, tag, payload in result.hub.wire if tag.endswith("/start")}
    if "subsample" in sampling:
        assert max(counts) < 400   # only sampled rows are encrypted
    else:
        assert counts == {400}     # GOSS hides its selection: every row is in the vector
    margins = _margins(result, active, passives)
    assert np.array_equal(margins, predict_by_traversal(result.active, result.passives,
                                                        {"platform/main": active, **passives}))
    assert auc(y, margins) > 0.75


def test_column_sampling_limits_each_tree_to_a_share_of_each_partys_features() -> None:
    y, active, passives = synthetic(300, seed=51)
    params = SecureBoostParams(n_trees=6, max_depth=3, bins=16, colsample_bytree=0.5, encryption=False)
    result = train_in_process(params, y, active, passives, timeout=60)
    parts = {"platform/main": result.active.own, **result.passives}
    tables = {"platform/main": active, **passives}
    for party, part in parts.items():
        limit = max(1, round(0.5 * tables[party].n_features))
        for t in range(len(result.active.trees)):
            assert len({r.feature for r in part.rules.values() if r.tree == t}) <= limit


def test_scale_pos_weight_raises_the_predicted_default_rate() -> None:
    y, active, passives = synthetic(400, seed=61)
    base = SecureBoostParams(n_trees=3, max_depth=3, bins=16, encryption=False)
    plain = train_in_process(base, y, active, passives, timeout=60)
    weighted = train_in_process(SecureBoostParams(n_trees=3, max_depth=3, bins=16, encryption=False,
                                                  scale_pos_weight=4.0), y, active, passives, timeout=60)
    assert weighted.active.base_margin > plain.active.base_margin
    assert np.mean(_margins(weighted, active, passives)) > np.mean(_margins(plain, active, passives))


def test_an_active_party_without_features_trains_on_passive_features_only() -> None:
    y, _, passives = synthetic(300, seed=71)
    params = SecureBoostParams(n_trees=2, max_depth=2, bins=8, encryption=False)
    result = train_in_process(params, y, FeatureTable.empty(300), passives, timeout=60)
    owners = {o for t in result.active.trees for o, _, _ in t.splits.values()}
    assert owners and "platform/main" not in owners
