"""Distributed prediction (leaf bitmaps per party, ANDed by the active party) and model parts at rest."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from federation.channel import InMemoryHub
from models.secureboost import (
    ActiveModel,
    FeatureTable,
    InconsistentMasksError,
    InvalidDataError,
    ModelIntegrityError,
    PassiveModel,
    SecureBoostParams,
    predict_active,
    serve_predict,
)
from models.secureboost.local import train_in_process
from models.secureboost.objective import transform
from tests.models.secureboost.support import ACTIVE_NAMES, TAX_NAMES, predict_by_traversal, synthetic


@pytest.fixture(scope="module")
def trained():
    y, active, passives = synthetic(400, seed=9, missing_rate=0.1)
    params = SecureBoostParams(n_trees=5, max_depth=4, bins=12, encryption=False, seed=4)
    return train_in_process(params, y, active, passives, timeout=60), active, passives


def test_mask_prediction_equals_traversal_on_new_rows_with_missing_values(trained) -> None:
    result, _, _ = trained
    _, active, passives = synthetic(300, seed=123, missing_rate=0.2)  # unseen rows, more holes
    masks = {p: m.leaf_masks(passives[p]) for p, m in result.passives.items()}
    got = result.active.predict_margin(active, masks)
    expected = predict_by_traversal(result.active, result.passives, {"platform/main": active, **passives})
    assert np.array_equal(got, expected)


def test_training_margins_equal_the_prediction_of_the_final_model(trained) -> None:
    result, active, passives = trained
    masks = {p: m.leaf_masks(passives[p]) for p, m in result.passives.items()}
    predicted = result.active.predict_margin(active, masks)
    expected = predict_by_traversal(result.active, result.passives, {"platform/main": active, **passives})
    assert np.allclose(predicted, expected, rtol=0, atol=1e-12)


def test_prediction_over_the_channel_by_ids(trained) -> None:
    result, active, passives = trained
    ids = [f"e{i}" for i in range(active.n_rows)]
    batch = [ids[i] for i in (5, 0, 17, 17, 42)]
    hub = InMemoryHub(("platform/main", *passives))

    def serve(party: str) -> None:
        index = {e: i for i, e in enumerate(ids)}
        serve_predict(hub.channel(party), "platform/main", result.passives[party],
                      lambda wanted: passives[party].rows([index[e] for e in wanted]), batch="b1", timeout=10)

    threads = [threading.Thread(target=serve, args=(p,)) for p in passives]
    for t in threads:
        t.start()
    got = predict_active(hub.channel("platform/main"), list(passives), result.active,
                         active.rows([5, 0, 17, 17, 42]), batch, batch="b1", timeout=10)
    for t in threads:
        t.join(10)
    full = transform(result.active.objective, result.active.predict_margin(
        active, {p: m.leaf_masks(passives[p]) for p, m in result.passives.items()}))
    assert np.array_equal(got, full[[5, 0, 17, 17, 42]])


def test_model_parts_round_trip_and_refuse_tampering(trained) -> None:
    result, active, passives = trained
    blob = result.active.to_bytes()
    again = ActiveModel.from_bytes(blob)
    assert again == result.active
    part = result.passives["source/tax"]
    assert PassiveModel.from_bytes(part.to_bytes()) == part
    assert result.active.to_bytes() == blob  # deterministic serialisation
    tampered = bytearray(blob)
    tampered[len(tampered) // 2] ^= 0x01
    with pytest.raises(ModelIntegrityError):
        ActiveModel.from_bytes(bytes(tampered))
    with pytest.raises(ModelIntegrityError):
        PassiveModel.from_bytes(blob)  # an active part is not a passive part


def test_the_active_part_holds_no_passive_rule_or_feature_name(trained) -> None:
    result, _, passives = trained
    blob = result.active.to_bytes()
    for name in (n for table in passives.values() for n in table.names):
        assert name.encode() not in blob
    for part in result.passives.values():
        for rule in part.rules.values():
            assert np.float64(rule.threshold).tobytes() not in blob


def test_masks_that_disagree_are_refused(trained) -> None:
    result, active, passives = trained
    masks = {p: m.leaf_masks(passives[p]) for p, m in result.passives.items()}
    tree = next(t for t, nodes in enumerate(result.active.trees) if nodes.splits)
    owner = next(o for o, _, _ in result.active.trees[tree].splits.values() if o != "platform/main")
    width = (masks[owner].trees[tree].n_leaves + 7) // 8
    masks[owner].trees[tree].bits = bytes(width * active.n_rows)  # allows no leaf at all
    with pytest.raises(InconsistentMasksError):
        result.active.predict_margin(active, masks)


def test_importance_names_only_own_features(trained) -> None:
    result, _, _ = trained
    by_party = result.active.importance_by_party()
    assert set(by_party) <= {"platform/main", "source/tax", "source/power"}
    assert sum(i.splits for i in by_party.values()) == sum(len(t.splits) for t in result.active.trees)
    own = result.active.own_feature_importance()
    assert set(own) <= set(ACTIVE_NAMES)
    tax = result.passives["source/tax"].feature_importance(result.active.split_gains("source/tax"))
    assert set(tax) <= set(TAX_NAMES)
    assert sum(i.gain for i in tax.values()) == pytest.approx(by_party["source/tax"].gain)


def test_a_table_missing_a_model_feature_is_refused(trained) -> None:
    result, _, passives = trained
    table = FeatureTable(TAX_NAMES[:1], passives["source/tax"].values[:, :1])
    with pytest.raises(InvalidDataError):
        result.passives["source/tax"].leaf_masks(table)
