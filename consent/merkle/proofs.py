"""Proof generation (RFC 9162 sections 2.1.3.1 and 2.1.4.1) from stored perfect nodes.

The recursive definitions PATH and SUBPROOF are unrolled into the list of leaf ranges whose subtree roots
form the proof; each range is a valid subtree, so its root comes from O(log n) stored nodes and every proof
costs one batched read, independent of the log size.
"""

from __future__ import annotations

from consent.merkle.tree import NodeReader, fold_right, perfect_cover, read_subtree_roots, split_point

Range = tuple[int, int]


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """Leaf ranges of PATH(index, D[0:size]), bottom-up. Requires 0 <= index < size."""
    if not 0 <= index < size:
        raise ValueError(f"index {index} outside a tree of size {size}")
    top_down: list[Range] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = split_point(hi - lo)
        if index < lo + k:
            top_down.append((lo + k, hi))
            hi = lo + k
        else:
            top_down.append((lo, lo + k))
            lo = lo + k
    return top_down[::-1]


def consistency_ranges(old_size: int, new_size: int) -> list[Range]:
    """Leaf ranges of PROOF(old_size, D[0:new_size]) = SUBPROOF(m, D[n], true), bottom-up.

    Requires 0 < old_size <= new_size; equal sizes give an empty proof.
    """
    if not 0 < old_size <= new_size:
        raise ValueError(f"consistency needs 0 < old_size <= new_size, got {old_size}, {new_size}")
    top_down: list[Range] = []
    lo, hi, complete = 0, new_size, True
    while old_size != hi:
        k = split_point(hi - lo)
        if old_size <= lo + k:
            top_down.append((lo + k, hi))
            hi = lo + k
        else:
            top_down.append((lo, lo + k))
            lo, complete = lo + k, False
    if not complete:
        # SUBPROOF(m, D[m], false) = [MTH(D[m])]: the old subtree's own root, unless it is the old tree root.
        top_down.append((lo, hi))
    return top_down[::-1]


def inclusion_proof(index: int, size: int, reader: NodeReader) -> list[bytes]:
    """The audit path of leaf `index` in the tree of the first `size` leaves."""
    return read_subtree_roots(inclusion_ranges(index, size), reader)


def consistency_proof(old_size: int, new_size: int, reader: NodeReader) -> list[bytes]:
    """The proof that the tree of `old_size` leaves is a prefix of the tree of `new_size` leaves."""
    return read_subtree_roots(consistency_ranges(old_size, new_size), reader)


def tree_root(size: int, reader: NodeReader) -> bytes:
    """MTH of the first `size` leaves from at most 64 stored perfect nodes."""
    if size < 0:
        raise ValueError("size must be >= 0")
    cover = perfect_cover(0, size)
    nodes = reader.node_hashes(cover) if cover else {}
    return fold_right([nodes[node] for node in cover])
