"""Heap-numbered binary trees: topology, leaves, and the per-party leaf masks of distributed prediction.

Node n has children 2n+1 (left, rule true) and 2n+2 (right). A tree is fully described by its set of
internal nodes; its leaves are the root (if not internal) and every child of an internal node that is not
itself internal. A party's mask for a row allows a leaf unless one of the party's own splits on the
path to it sends the row the other way; ANDing every party's mask leaves exactly one leaf.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import numpy as np

from federation.proto import secureboost_pb2 as pb
from models.secureboost.errors import InconsistentMasksError, ProtocolError


def left(node: int) -> int:
    return 2 * node + 1


def right(node: int) -> int:
    return 2 * node + 2


def parent(node: int) -> int:
    return (node - 1) // 2


def depth_of(node: int) -> int:
    return (node + 1).bit_length() - 1


def leaves_of(internal: Iterable[int]) -> list[int]:
    """Sorted leaves of the tree whose internal nodes are `internal` (which must be closed under parent)."""
    inside = set(internal)
    for n in inside:
        if n != 0 and parent(n) not in inside:
            raise ProtocolError("tree topology", "internal nodes closed under parent", sorted(inside))
    if not inside:
        return [0]
    return sorted(c for n in inside for c in (left(n), right(n)) if c not in inside)


def side_of(ancestor: int, node: int) -> bool | None:
    """True if `node` lies under the left child of `ancestor`, False if under the right, None if neither."""
    while node > ancestor:
        child, node = node, parent(node)
        if node == ancestor:
            return child == left(ancestor)
    return None


def leaf_mask(internal: Iterable[int], own_rules: Mapping[int, Callable[[], np.ndarray]], n_rows: int
              ) -> tuple[np.ndarray, int]:
    """Packed allowed-leaf bits (n_rows, ceil(leaves / 8)) for one tree and the number of leaves.

    `own_rules` maps each node this party split to a function returning its rows' go-left booleans.
    """
    leaves = leaves_of(internal)
    allowed = np.ones((n_rows, len(leaves)), dtype=bool)
    for node, rule in own_rules.items():
        go_left = rule()
        for j, leaf in enumerate(leaves):
            side = side_of(node, leaf)
            if side is True:
                allowed[:, j] &= go_left
            elif side is False:
                allowed[:, j] &= ~go_left
    return np.packbits(allowed, axis=1), len(leaves)


def combine_masks(tree: int, masks: Iterable[pb.TreeLeafMask], n_rows: int) -> np.ndarray:
    """Index (into the sorted leaves) of every row's single leaf after ANDing all parties' masks."""
    combined: np.ndarray | None = None
    n_leaves = None
    for mask in masks:
        if n_leaves is None:
            n_leaves = mask.n_leaves
        if mask.tree != tree or mask.n_leaves != n_leaves:
            raise ProtocolError("leaf mask", (tree, n_leaves), (mask.tree, mask.n_leaves))
        width = (mask.n_leaves + 7) // 8
        if len(mask.bits) != n_rows * width:
            raise ProtocolError("leaf mask bytes", n_rows * width, len(mask.bits))
        bits = np.frombuffer(mask.bits, dtype=np.uint8).reshape(n_rows, width)
        allowed = np.unpackbits(bits, axis=1, count=mask.n_leaves).astype(bool)
        combined = allowed if combined is None else combined & allowed
    if combined is None:
        raise ProtocolError("leaf masks", "at least one party", 0)
    per_row = combined.sum(axis=1)
    bad = np.flatnonzero(per_row != 1)
    if bad.size:
        raise InconsistentMasksError(tree, int(bad[0]), int(per_row[bad[0]]))
    return np.argmax(combined, axis=1)
