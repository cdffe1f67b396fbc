from __future__ import annotations

import json

import numpy as np
import pytest

from models.horizontal import (
    BinEdges,
    BoostingConfig,
    GlobalModel,
    InvalidTableError,
    ModelIntegrityError,
    boosting,
    load_bank_table,
    read_model_file,
    split_holdout,
    write_model_file,
)
from models.horizontal.binning import local_quantiles
from models.horizontal.model_file import now_iso, to_document
from tests.models.horizontal.synthetic import make_table, write_csv


def _logistic_model(table):
    edges = BinEdges.from_quantiles(local_quantiles(table.features, 5))
    weights = tuple(np.random.default_rng(0).normal(size=edges.width + 1))
    return GlobalModel(kind="logistic", feature_names=table.feature_names, training={"rounds": 3, "auc": float("nan")},
                       created_at=now_iso(), weights=weights, bin_edges=edges)


def test_model_files_round_trip_and_score_identically(tmp_path):
    table = make_table(400, seed=5)
    booster = boosting.boost(None, table.features, table.labels, BoostingConfig(trees_per_round=2))
    xgb_model = GlobalModel(kind="xgboost", feature_names=table.feature_names, training={}, created_at=now_iso(),
                            booster=booster)
    for model in (_logistic_model(table), xgb_model):
        path = tmp_path / f"{model.kind}.json"
        digest = write_model_file(model, path)
        loaded = read_model_file(path)
        assert json.loads(path.read_text())["sha256"] == digest
        assert loaded.kind == model.kind and loaded.feature_names == model.feature_names
        assert np.allclose(loaded.predict_proba(table.features), model.predict_proba(table.features), atol=1e-7)
    assert read_model_file(tmp_path / "logistic.json").training["auc"] is None  # NaN is stored as null


@pytest.mark.parametrize("field,value", [("weights", None), ("features", ["a"]), ("training", {"rounds": 4}),
                                         ("format", "other"), ("sha256", "0" * 64)])
def test_any_alteration_is_detected(tmp_path, field, value):
    doc = to_document(_logistic_model(make_table(200, seed=6)))
    if field == "weights":
        doc["weights"][0] += 1e-6
    else:
        doc[field] = value
    path = tmp_path / "m.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ModelIntegrityError):
        read_model_file(path)


def test_a_bank_table_loads_from_the_homo_csv_layout(tmp_path):
    table = make_table(50, seed=7)
    loaded = load_bank_table(write_csv(table, tmp_path / "bank.csv"))
    assert loaded.feature_names == table.feature_names
    assert np.array_equal(loaded.labels, table.labels) and np.allclose(loaded.features, table.features, atol=1e-6)


@pytest.mark.parametrize("text", ["id,x0\n1,0.5\n", "id,y,x0\n1,2,0.5\n", "id,y,x0\n1,1,abc\n", "id,y,x0\n1,1\n"])
def test_malformed_tables_are_refused(tmp_path, text):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InvalidTableError):
        load_bank_table(path)


def test_holdout_split_is_deterministic_and_disjoint():
    table = make_table(101, seed=8)
    train, held = split_holdout(table, 0.2, seed=4)
    again, _ = split_holdout(table, 0.2, seed=4)
    assert len(train) + len(held) == 101 and len(held) == 20
    assert np.array_equal(train.features, again.features)
    rows = {tuple(r) for r in train.features} & {tuple(r) for r in held.features}
    assert not rows
