"""Parameters are validated when built and round-trip through canonical JSON."""

from __future__ import annotations

import pytest

from models.secureboost import InvalidParameterError, Metric, Objective, SecureBoostParams


@pytest.mark.parametrize("bad", [
    {"n_trees": 0}, {"max_depth": 0}, {"max_depth": 13}, {"learning_rate": 0.0}, {"bins": 1},
    {"reg_lambda": -1.0}, {"min_child_weight": -0.5}, {"gamma": -1.0}, {"subsample": 0.0},
    {"colsample_bytree": 1.5}, {"early_stopping_rounds": -1}, {"scale_pos_weight": 0.0},
    {"goss_top_rate": 0.5, "goss_other_rate": 0.6}, {"goss_top_rate": 0.2, "goss_other_rate": 0.1, "subsample": 0.5},
    {"objective": "multi:softmax"}, {"eval_metric": "accuracy"},
    {"objective": "reg:squarederror", "scale_pos_weight": 2.0},
    {"objective": "reg:squarederror", "eval_metric": "auc"},
])
def test_out_of_range_parameters_are_refused(bad: dict) -> None:
    with pytest.raises(InvalidParameterError):
        SecureBoostParams(**bad)


def test_json_round_trip_and_unknown_keys() -> None:
    params = SecureBoostParams(n_trees=7, objective="reg:squarederror", goss_top_rate=0.2, goss_other_rate=0.1)
    assert params.objective is Objective.SQUARED_ERROR
    assert params.metric is Metric.RMSE
    assert SecureBoostParams.from_json(params.to_json()) == params
    with pytest.raises(InvalidParameterError):
        SecureBoostParams.from_mapping({"n_tree": 3})
