"""Distributed prediction for online serving: every tree and party of a batch in a few array operations.

`PassiveModel.leaf_masks` and `ActiveModel.predict_margin` walk tree by tree and node by node; for a
handful of enterprises (a coalesced bank request) that is hundreds of tiny numpy calls per batch. Here
masks stay packed as they travel, one (trees, rows, bytes) array per party: ANDing parties is a byte AND,
and counting a row's allowed leaves or summing their weights is a table lookup per byte. The bits and the
margins are the same as the tree-by-tree code's (tests compare them exactly).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from federation.proto import secureboost_pb2 as pb
from models.secureboost.binning import FeatureTable
from models.secureboost.errors import InconsistentMasksError, InvalidDataError, ProtocolError
from models.secureboost.model import ActiveModel, PassiveModel
from models.secureboost.tree import leaves_of, side_of

# Leaf j of a tree is bit 7 - j % 8 of byte j // 8 (np.packbits' order, the wire's).
_BIT_OF_SLOT = np.array([1 << (7 - i) for i in range(8)], dtype=np.uint8)
_SET_BITS = np.array([bin(b).count("1") for b in range(256)], dtype=np.int64)


@dataclass(frozen=True)
class _Layout:
    """Where each tree's leaves sit in a party's packed masks: tree t uses the first n_leaves[t] bits of its
    width[t] bytes per row; bytes up to the widest tree are padding."""

    n_leaves: tuple[int, ...]
    width: tuple[int, ...]
    leaf_bits: np.ndarray         # (trees, bytes) uint8: the bits that are leaves

    @classmethod
    def of(cls, leaf_counts: Sequence[int]) -> _Layout:
        widths = tuple((n + 7) // 8 for n in leaf_counts)
        leaf_bits = np.zeros((len(widths), max(widths, default=1)), dtype=np.uint8)
        for t, n in enumerate(leaf_counts):
            for j in range(n):
                leaf_bits[t, j // 8] |= _BIT_OF_SLOT[j % 8]
        return cls(tuple(leaf_counts), widths, leaf_bits)

    def read(self, trees: Sequence[pb.TreeLeafMask], n_rows: int, who: str) -> np.ndarray:
        """A party's masks as (trees, n_rows, bytes) uint8, after checking each tree's shape."""
        if len(trees) != len(self.n_leaves):
            raise ProtocolError(f"leaf masks of {who}", len(self.n_leaves), len(trees))
        for t, mask in enumerate(trees):
            if mask.tree != t or mask.n_leaves != self.n_leaves[t]:
                raise ProtocolError(f"leaf mask of {who}", (t, self.n_leaves[t]), (mask.tree, mask.n_leaves))
            if len(mask.bits) != n_rows * self.width[t]:
                raise ProtocolError(f"leaf mask bytes of {who}", n_rows * self.width[t], len(mask.bits))
        if len(set(self.width)) == 1:
            packed = np.frombuffer(b"".join(m.bits for m in trees), dtype=np.uint8)
            packed = packed.reshape(len(trees), n_rows, self.width[0])
        else:
            packed = np.zeros((len(trees), n_rows, self.leaf_bits.shape[1]), dtype=np.uint8)
            for t, (m, w) in enumerate(zip(trees, self.width, strict=True)):
                packed[t, :, :w] = np.frombuffer(m.bits, dtype=np.uint8).reshape(n_rows, w)
        # A sender's padding bits are ignored: only leaf bits can be allowed.
        return packed & self.leaf_bits[:, None, :]

    def write(self, packed: np.ndarray) -> list[bytes]:
        """Each tree's wire bytes from (trees, n_rows, bytes) masks."""
        return [packed[t, :, :w].tobytes() for t, w in enumerate(self.width)]


def _subtree_bits(trees: Sequence[Sequence[int]], rules: Sequence[tuple[int, int]], layout: _Layout
                  ) -> tuple[np.ndarray, np.ndarray]:
    """For rules (tree, node): (rules, bytes) packed bits of the tree's leaves under the node's left child,
    and under its right child."""
    under_left = np.zeros((len(rules), layout.leaf_bits.shape[1]), dtype=np.uint8)
    under_right = np.zeros_like(under_left)
    leaves = [leaves_of(internal) for internal in trees]
    for r, (t, node) in enumerate(rules):
        for j, leaf in enumerate(leaves[t]):
            side = side_of(node, leaf)
            if side is not None:
                target = under_left if side else under_right
                target[r, j // 8] |= _BIT_OF_SLOT[j % 8]
    return under_left, under_right


class LeafMaskPlan:
    """A party's `leaf_masks` for serving: all of its split rules evaluated at once, same bytes out."""

    def __init__(self, model: PassiveModel) -> None:
        self.party = model.party
        self._layout = _Layout.of([len(leaves_of(internal)) for internal in model.trees])
        rules = sorted(model.rules.values(), key=lambda r: (r.tree, r.node))
        self._features = tuple(r.feature for r in rules)
        self._required = tuple(dict.fromkeys((*model.features, *self._features)))
        self._thresholds = np.array([r.threshold for r in rules], dtype=np.float64)
        self._missing_left = np.array([r.missing_left for r in rules], dtype=bool)
        self._under_left, self._under_right = _subtree_bits(model.trees, [(r.tree, r.node) for r in rules],
                                                            self._layout)
        # Rules are sorted by tree: the trees that have some, and where each one's rules start.
        trees = [r.tree for r in rules]
        self._ruled_trees = np.array(sorted(set(trees)), dtype=np.intp)
        self._first_rule = np.array([trees.index(t) for t in self._ruled_trees], dtype=np.intp)
        self._defaults: pb.LeafMasks | None = None

    @property
    def layout(self) -> _Layout:
        return self._layout

    def allowed(self, table: FeatureTable) -> np.ndarray:
        """Packed (trees, n_rows, bytes) masks: a leaf's bit is set unless one of this party's splits on
        its path sends the row elsewhere."""
        index = {name: k for k, name in enumerate(table.names)}
        missing = sorted(f for f in self._required if f not in index)
        if missing:
            raise InvalidDataError(f"prediction table lacks features {missing}")
        values = table.values[:, [index[f] for f in self._features]]
        with np.errstate(invalid="ignore"):
            go_left = np.where(np.isnan(values), self._missing_left, values < self._thresholds)
        # A rule bars the leaves under the child the row does not take; a tree's barred leaves are the
        # union over its rules.
        barred = np.zeros((len(self._layout.n_leaves), table.n_rows, self._layout.leaf_bits.shape[1]), np.uint8)
        if self._first_rule.size:
            per_rule = np.where(go_left.T[:, :, None], self._under_right[:, None, :], self._under_left[:, None, :])
            barred[self._ruled_trees] = np.bitwise_or.reduceat(per_rule, self._first_rule, axis=0)
        return ~barred & self._layout.leaf_bits[:, None, :]

    def default_masks(self) -> pb.LeafMasks:
        """The masks of one row with every feature missing: each split's learned default direction (what
        the active party needs to score without this party, see `broadcast`)."""
        if self._defaults is None:
            names = self._required
            self._defaults = self.leaf_masks(FeatureTable(names, np.full((1, len(names)), np.nan)))
        return self._defaults

    def leaf_masks(self, table: FeatureTable) -> pb.LeafMasks:
        """The same message `PassiveModel.leaf_masks` builds."""
        out = pb.LeafMasks(party=self.party, n_rows=table.n_rows)
        bits = self._layout.write(self.allowed(table))
        for t, (n_leaves, data) in enumerate(zip(self._layout.n_leaves, bits, strict=True)):
            out.trees.add(tree=t, n_leaves=n_leaves, bits=data)
        return out


def broadcast(defaults: pb.LeafMasks, n_rows: int) -> pb.LeafMasks:
    """A party's one-row default masks repeated for `n_rows` rows: every one of its splits sends every row
    down its learned default (missing-value) direction, as if the party held none of the rows' values."""
    if defaults.n_rows != 1:
        raise ProtocolError(f"default masks of {defaults.party}", 1, defaults.n_rows)
    out = pb.LeafMasks(party=defaults.party, n_rows=n_rows)
    for mask in defaults.trees:
        out.trees.add(tree=mask.tree, n_leaves=mask.n_leaves, bits=mask.bits * n_rows)
    return out


@dataclass(frozen=True)
class CombinedPrediction:
    """Margins of a batch, per party how much its splits moved each row's margin (reason codes), and each
    row's leaf per tree (trees, rows), as an index into the tree's sorted leaves."""

    margin: np.ndarray
    contributions: dict[str, np.ndarray]
    leaves: np.ndarray


class MaskCombiner:
    """The active party's combine step for serving: its own plan, every party's masks, margins at once."""

    def __init__(self, model: ActiveModel) -> None:
        self._model = model
        self._own = LeafMaskPlan(model.own)
        self._layout = self._own.layout
        trees, width = self._layout.leaf_bits.shape
        outputs = model.params.outputs
        # weight_of[t, k, b, c]: total class-c weight of tree t's leaves whose bits are set in byte value b at
        # byte k; risk_of the same for the leaf's risk weight (what reason codes rank parties by).
        weight_of = np.zeros((trees, width, 256, outputs))
        risk_of = np.zeros((trees, width, 256))
        values = np.arange(256, dtype=np.uint8)
        for t, tree in enumerate(model.trees):
            w = tree.leaf_weights().reshape(-1, outputs)
            if w.shape[0] != self._layout.n_leaves[t]:
                raise ProtocolError("tree topology", self._layout.n_leaves[t], w.shape[0])
            # Softmax: how far a leaf moves the adverse classes' margins against class 0 (no adverse outcome).
            risk = w[:, 0] if outputs == 1 else w[:, 1:].mean(axis=1) - w[:, 0]
            for j in range(w.shape[0]):
                selected = (values & _BIT_OF_SLOT[j % 8]) != 0
                weight_of[t, j // 8, selected] += w[j]
                risk_of[t, j // 8, selected] += risk[j]
        self._weight_of = weight_of
        self._risk_of = risk_of

    def check_defaults(self, party: str, defaults: pb.LeafMasks) -> None:
        """Raise `ProtocolError` unless `defaults` are one row of masks shaped like this model's trees."""
        if defaults.n_rows != 1:
            raise ProtocolError(f"default masks of {party}", 1, defaults.n_rows)
        self._layout.read(defaults.trees, 1, party)

    def _count_and_weight(self, packed: np.ndarray, table: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(trees, rows) number of allowed leaves and their total weight ((trees, rows, classes) for the
        class weights, (trees, rows) for `table` = the risk weights)."""
        table = self._weight_of if table is None else table
        count = _SET_BITS[packed].sum(axis=2)
        trees = np.arange(packed.shape[0])[:, None]
        weight = table[trees, 0, packed[:, :, 0]]
        for k in range(1, packed.shape[2]):
            weight = weight + table[trees, k, packed[:, :, k]]
        return count, weight

    def combine(self, own_table: FeatureTable, masks: Mapping[str, pb.LeafMasks],
                defaults: Mapping[str, pb.LeafMasks] | None = None) -> CombinedPrediction:
        """Margins equal to `ActiveModel.predict_margin`, and `contributions[p]`: per row, the margin with
        every party's splits minus the mean margin over the leaves p's splits exclude, summed over trees
        (positive: p's data raised the risk).

        Degraded: a party with no masks but one-row `defaults` (its `LeafMaskPlan.default_masks`) is scored
        as if it held no value of any row; its splits follow their default directions."""
        n = own_table.n_rows
        allowed = {self._model.party: self._own.allowed(own_table)}
        masks = dict(masks)
        for party, one_row in (defaults or {}).items():
            if party not in masks:
                masks[party] = broadcast(one_row, n)
        for party in self._model.parties:
            if party not in masks:
                raise ProtocolError("leaf masks", f"one from {party}", sorted(masks))
            if masks[party].n_rows != n:
                raise ProtocolError(f"leaf masks of {party}", n, masks[party].n_rows)
            allowed[party] = self._layout.read(masks[party].trees, n, party)
        together = np.bitwise_and.reduce(list(allowed.values()))
        count, leaf_weight = self._count_and_weight(together)
        bad = np.argwhere(count != 1)
        if bad.size:
            tree, row = (int(v) for v in bad[0])
            raise InconsistentMasksError(tree, row, int(count[tree, row]))
        # With one leaf left its weight is the sum (plus zeros, exact); the trees are added one after the
        # other, in predict_margin's order, so both give the same floats.
        outputs = leaf_weight.shape[2]
        margin = np.cumsum(np.concatenate([np.full((1, n, outputs), self._model.base_margin), leaf_weight]),
                           axis=0)[-1]
        margin = margin[:, 0] if outputs == 1 else margin
        _, risk_weight = self._count_and_weight(together, self._risk_of)
        contributions = {}
        for party in allowed:
            others = [a for q, a in allowed.items() if q != party]
            rest = (np.bitwise_and.reduce(others) if others
                    else np.broadcast_to(self._layout.leaf_bits[:, None, :], allowed[party].shape))
            rest_count, rest_weight = self._count_and_weight(rest, self._risk_of)
            contributions[party] = (risk_weight - rest_weight / np.maximum(rest_count, 1)).sum(axis=0)
        # Leaf j is bit j of the row's bytes in np.unpackbits' (big-endian) order: one bit is left per row.
        leaves = np.argmax(np.unpackbits(together, axis=2), axis=2)
        return CombinedPrediction(margin, contributions, leaves)
