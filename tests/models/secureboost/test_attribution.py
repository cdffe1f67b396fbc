"""Per-split attribution: each row's split contributions add up to its margin, and name only its path."""

from __future__ import annotations

import numpy as np
import pytest

from models.secureboost import SecureBoostParams
from models.secureboost.attribution import SplitAttribution
from models.secureboost.local import train_in_process
from models.secureboost.mask_plan import MaskCombiner
from models.secureboost.tree import combine_masks
from tests.models.secureboost.support import synthetic


@pytest.fixture(scope="module")
def trained():
    y, active, passives = synthetic(400, seed=12, missing_rate=0.1)
    params = SecureBoostParams(n_trees=5, max_depth=3, bins=12, encryption=False, seed=3)
    result = train_in_process(params, y, active, passives, timeout=60)
    masks = {p: m.leaf_masks(passives[p]) for p, m in result.passives.items()}
    return result, active, masks


def test_leaves_are_the_tree_by_tree_leaves(trained) -> None:
    result, active, masks = trained
    combined = MaskCombiner(result.active).combine(active, masks)
    own = result.active.own.leaf_masks(active)
    for t in range(len(result.active.trees)):
        parts = [own.trees[t]] + [masks[p].trees[t] for p in result.active.parties]
        assert np.array_equal(combined.leaves[t], combine_masks(t, parts, active.n_rows))


def test_contributions_add_up_to_the_margin_and_follow_the_path(trained) -> None:
    result, active, masks = trained
    combined = MaskCombiner(result.active).combine(active, masks)
    attribution = SplitAttribution(result.active)
    contributions = attribution.contributions(combined.leaves)
    means = sum(float(np.mean(tree.leaf_weights())) for tree in result.active.trees)
    assert np.allclose(contributions.sum(axis=1), combined.margin - result.active.base_margin - means, atol=1e-12)
    # A split off every row's path contributes nothing to it; some rows are moved by every party.
    on_path = np.zeros_like(contributions, dtype=bool)
    index = {key: k for k, key in enumerate(attribution.keys)}
    for t, tree in enumerate(result.active.trees):
        leaves = sorted(tree.leaves)
        for i, j in enumerate(combined.leaves[t]):
            node = leaves[j]
            while node > 0:
                node = (node - 1) // 2
                owner, sid, _ = tree.splits[node]
                on_path[i, index[(owner, sid)]] = True
    assert not np.any(contributions[~on_path])
    assert {owner for owner, _ in attribution.keys} == {"platform/main", *result.active.parties}
