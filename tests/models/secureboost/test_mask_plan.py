"""Serving-time distributed prediction (`LeafMaskPlan`, `MaskCombiner`) against the tree-by-tree code."""

from __future__ import annotations

import numpy as np
import pytest

from models.secureboost import FeatureTable, InconsistentMasksError, InvalidDataError, SecureBoostParams
from models.secureboost.errors import ProtocolError
from models.secureboost.local import train_in_process
from models.secureboost.mask_plan import LeafMaskPlan, MaskCombiner, broadcast
from tests.models.secureboost.support import TAX_NAMES, synthetic


@pytest.fixture(scope="module", params=[3, 4], ids=["depth3", "depth4"])
def trained(request):
    y, active, passives = synthetic(400, seed=9, missing_rate=0.1)
    params = SecureBoostParams(n_trees=6, max_depth=request.param, bins=12, encryption=False, seed=4)
    result = train_in_process(params, y, active, passives, timeout=60)
    _, new_active, new_passives = synthetic(257, seed=321, missing_rate=0.25)  # unseen rows, more holes
    return result, new_active, new_passives


def _allowed_sets(masks, n: int) -> list[list[np.ndarray]]:
    """Per tree, per row: the allowed leaves of one party's message, read bit by bit."""
    out = []
    for mask in masks.trees:
        width = (mask.n_leaves + 7) // 8
        rows = np.frombuffer(mask.bits, dtype=np.uint8).reshape(n, width)
        out.append([np.array([bool(rows[i, j // 8] >> (7 - j % 8) & 1) for j in range(mask.n_leaves)])
                    for i in range(n)])
    return out


def test_plan_masks_are_byte_for_byte_the_models_masks(trained) -> None:
    result, active, passives = trained
    for party, model in result.passives.items():
        assert LeafMaskPlan(model).leaf_masks(passives[party]) == model.leaf_masks(passives[party])
    own = result.active.own
    assert LeafMaskPlan(own).leaf_masks(active) == own.leaf_masks(active)


def test_a_plan_reads_columns_by_name_and_refuses_a_missing_feature(trained) -> None:
    result, _, passives = trained
    tax = passives["source/tax"]
    reordered = FeatureTable(tuple(reversed(tax.names)), tax.values[:, ::-1])
    plan = LeafMaskPlan(result.passives["source/tax"])
    assert plan.leaf_masks(reordered) == result.passives["source/tax"].leaf_masks(tax)
    with pytest.raises(InvalidDataError):
        plan.leaf_masks(FeatureTable(TAX_NAMES[:1], tax.values[:, :1]))


def test_combined_margins_equal_predict_margin_exactly(trained) -> None:
    result, active, passives = trained
    masks = {p: m.leaf_masks(passives[p]) for p, m in result.passives.items()}
    combined = MaskCombiner(result.active).combine(active, masks)
    assert np.array_equal(combined.margin, result.active.predict_margin(active, masks))


def test_contributions_match_a_row_by_row_reference(trained) -> None:
    result, active, passives = trained
    n = 40
    active = FeatureTable(active.names, active.values[:n])
    passives = {p: FeatureTable(t.names, t.values[:n]) for p, t in passives.items()}
    masks = {p: m.leaf_masks(passives[p]) for p, m in result.passives.items()}
    combined = MaskCombiner(result.active).combine(active, masks)
    sets = {"platform/main": _allowed_sets(result.active.own.leaf_masks(active), n),
            **{p: _allowed_sets(m, n) for p, m in masks.items()}}
    for party in sets:
        for i in range(n):
            expected = 0.0
            for t, tree in enumerate(result.active.trees):
                weights = tree.leaf_weights()
                full = np.logical_and.reduce([sets[q][t][i] for q in sets])
                rest = np.logical_and.reduce([sets[q][t][i] for q in sets if q != party])
                expected += weights[full].sum() - weights[rest].sum() / max(rest.sum(), 1)
            assert combined.contributions[party][i] == pytest.approx(expected, abs=1e-12)


def test_padding_bits_from_a_sender_change_nothing(trained) -> None:
    result, active, passives = trained
    masks = {p: m.leaf_masks(passives[p]) for p, m in result.passives.items()}
    before = MaskCombiner(result.active).combine(active, masks)
    for mask in masks["source/tax"].trees:
        width = (mask.n_leaves + 7) // 8
        if mask.n_leaves % 8:  # set the unused low bits of each row's last byte
            rows = np.frombuffer(mask.bits, dtype=np.uint8).reshape(-1, width).copy()
            rows[:, -1] |= 0xFF >> (mask.n_leaves % 8)
            mask.bits = rows.tobytes()
    after = MaskCombiner(result.active).combine(active, masks)
    assert np.array_equal(before.margin, after.margin)


def test_masks_that_disagree_or_have_the_wrong_shape_are_refused(trained) -> None:
    result, active, passives = trained
    combiner = MaskCombiner(result.active)
    masks = {p: m.leaf_masks(passives[p]) for p, m in result.passives.items()}
    tree = next(t for t, nodes in enumerate(result.active.trees) if nodes.splits)
    blank = masks["source/tax"].trees[tree]
    original = blank.bits
    blank.bits = bytes(len(original))  # allows no leaf at all
    with pytest.raises(InconsistentMasksError):
        combiner.combine(active, masks)
    blank.bits = original[:-1]
    with pytest.raises(ProtocolError):
        combiner.combine(active, masks)
    blank.bits = original
    blank.n_leaves += 1
    with pytest.raises(ProtocolError):
        combiner.combine(active, masks)
    blank.n_leaves -= 1
    del masks["source/power"]
    with pytest.raises(ProtocolError):
        combiner.combine(active, masks)


def _all_missing(table: FeatureTable) -> FeatureTable:
    return FeatureTable(table.names, np.full_like(table.values, np.nan))


@pytest.mark.parametrize("missing", ["source/tax", "source/power"])
def test_a_missing_partys_splits_follow_their_default_direction(trained, missing: str) -> None:
    """Degraded: scoring with a party's one-row default masks equals scoring with all its features missing,
    and each of its splits on a row's path sends the row the way its learned `missing_left` says."""
    result, active, passives = trained
    masks = {p: m.leaf_masks(passives[p]) for p, m in result.passives.items() if p != missing}
    defaults = {missing: LeafMaskPlan(result.passives[missing]).default_masks()}
    degraded = MaskCombiner(result.active).combine(active, masks, defaults)
    holes = {**masks, missing: result.passives[missing].leaf_masks(_all_missing(passives[missing]))}
    assert np.array_equal(degraded.margin, result.active.predict_margin(active, holes))
    full = result.active.predict_margin(active, {p: m.leaf_masks(passives[p]) for p, m in result.passives.items()})
    assert not np.array_equal(degraded.margin, full)  # the missing party's data did matter
    # The default masks allow, in every tree, exactly the leaves reached by following missing_left.
    rules = {r.split_id: r for r in result.passives[missing].rules.values()}
    for t, tree in enumerate(result.active.trees):
        allowed = _allowed_sets(broadcast(defaults[missing], 1), 1)[t][0]
        leaves = sorted(tree.leaves)
        for j, leaf in enumerate(leaves):
            node, ok = leaf, True
            while node > 0:
                parent = (node - 1) // 2
                owner, sid, _ = tree.splits[parent]
                if owner == missing and rules[sid].missing_left != (node == 2 * parent + 1):
                    ok = False
                node = parent
            assert allowed[j] == ok


def test_default_masks_must_be_one_row(trained) -> None:
    result, _, passives = trained
    two_rows = result.passives["source/tax"].leaf_masks(FeatureTable(passives["source/tax"].names,
                                                                     passives["source/tax"].values[:2]))
    with pytest.raises(ProtocolError):
        broadcast(two_rows, 5)
