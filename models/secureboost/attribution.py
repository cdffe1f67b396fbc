"""Per-split contributions to a prediction, for reasons: which split moved a row's margin, and which way.

Along a row's path through a tree, each split moves the expected leaf weight from the mean over the leaves
under its node to the mean under the child the row takes (Saabas' attribution, with unweighted leaf means: the
model keeps no per-leaf row counts). Per tree the moves add up to the row's leaf weight minus the tree's mean
leaf weight. The active party knows every split's owner and opaque id, so it can attribute; which data item a
split reads only its owner knows, and tells only if its approval allows (`serving.name_items`).
"""

from __future__ import annotations

import numpy as np

from models.secureboost.model import ActiveModel
from models.secureboost.tree import leaves_of, parent, side_of


def risk_weights(leaf_weights: np.ndarray, outputs: int) -> np.ndarray:
    """Each leaf's risk weight: its weight, or for softmax how far it moves the adverse classes' margins
    against class 0 (the same measure the mask combiner ranks parties by)."""
    w = np.asarray(leaf_weights, dtype=float).reshape(-1, outputs)
    return w[:, 0] if outputs == 1 else w[:, 1:].mean(axis=1) - w[:, 0]


class SplitAttribution:
    """The contribution of every split of a model, by (owner, split id), for rows given by their leaves."""

    def __init__(self, model: ActiveModel) -> None:
        self.keys: tuple[tuple[str, int], ...] = tuple(sorted(
            {(owner, sid) for tree in model.trees for owner, sid, _ in tree.splits.values()}))
        index = {key: k for k, key in enumerate(self.keys)}
        self._tables: list[np.ndarray] = []
        for tree in model.trees:
            leaves = leaves_of(tree.splits)
            weights = risk_weights(tree.leaf_weights(), model.params.outputs)

            def mean_under(node: int, leaves=leaves, weights=weights) -> float:
                return float(np.mean([w for leaf, w in zip(leaves, weights, strict=True)
                                      if leaf == node or side_of(node, leaf) is not None]))

            table = np.zeros((len(leaves), len(self.keys)))
            for j, leaf in enumerate(leaves):
                node = leaf
                while node > 0:
                    up = parent(node)
                    owner, sid, _ = tree.splits[up]
                    table[j, index[(owner, sid)]] += mean_under(node) - mean_under(up)
                    node = up
            self._tables.append(table)

    def contributions(self, leaves: np.ndarray) -> np.ndarray:
        """(rows, keys) margin moved by each split, summed over trees; `leaves` is (trees, rows), each row's
        leaf as an index into the tree's sorted leaves (`CombinedPrediction.leaves`)."""
        out = np.zeros((leaves.shape[1], len(self.keys)))
        for table, row_leaves in zip(self._tables, leaves, strict=True):
            out += table[row_leaves]
        return out
