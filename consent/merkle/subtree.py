"""Subtree proofs of draft-ietf-plants-merkle-tree-certs (the "subtree" vectors of transparency-dev/merkle).

A subtree [start, end) is valid when start is a multiple of bit_ceil(end - start); its root is then a node of
every tree that contains it. A subtree inclusion proof is an ordinary inclusion proof inside the subtree; a
subtree consistency proof shows that a subtree root is part of the tree of `size` leaves. With start = 0 the
consistency proof is exactly the RFC 9162 one. The log itself does not need these; they are here so that the
verifier is checked against every published vector and so cosigned subtrees can be checked later.
"""

from __future__ import annotations

from collections.abc import Sequence

from consent.merkle.errors import RootMismatchError, SubtreeProofError
from consent.merkle.hashing import EMPTY_ROOT, HASH_SIZE, node_hash
from consent.merkle.proofs import Range, inclusion_ranges
from consent.merkle.tree import NodeReader, is_valid_subtree, read_subtree_roots
from consent.merkle.verify import root_from_inclusion_proof


def verify_subtree_inclusion(
    leaf: bytes, index: int, start: int, end: int, proof: Sequence[bytes], subtree_root: bytes
) -> None:
    """Check that leaf hash `leaf` sits at `index` in the valid subtree [start, end) with root `subtree_root`."""
    if not is_valid_subtree(start, end):
        raise SubtreeProofError(f"[{start}, {end}) is not a valid subtree")
    if not start <= index < end:
        raise SubtreeProofError(f"leaf index {index} is outside the subtree [{start}, {end})")
    calculated = root_from_inclusion_proof(index - start, end - start, leaf, proof)
    if calculated != subtree_root:
        raise RootMismatchError(subtree_root, calculated)


def _edge_paths(start: int, end: int, size: int) -> tuple[int, int, int, int]:
    """Paths to the subtree's first leaf, its last leaf and the tree's last leaf, lifted to the level where
    the proof starts (the highest node on the subtree's right edge that is also a node of the whole tree).
    Returns (fn, sn, tn, level)."""
    fn, sn, tn, level = start, end - 1, size - 1, 0
    if sn == tn:
        while fn != sn:
            fn, sn, tn, level = fn >> 1, sn >> 1, tn >> 1, level + 1
    else:
        while fn != sn and sn & 1:
            fn, sn, tn, level = fn >> 1, sn >> 1, tn >> 1, level + 1
    return fn, sn, tn, level


def root_from_subtree_consistency_proof(
    start: int, end: int, size: int, proof: Sequence[bytes], subtree_root: bytes
) -> bytes:
    """The tree root implied by a proof that subtree [start, end) with `subtree_root` is in `size` leaves.

    Requires a non-empty valid subtree with end <= size (empty subtrees are handled by the verifier).
    """
    if start == end:
        raise SubtreeProofError("an empty subtree implies no tree root")
    if not is_valid_subtree(start, end):
        raise SubtreeProofError(f"[{start}, {end}) is not a valid subtree")
    if end > size:
        raise SubtreeProofError(f"subtree [{start}, {end}) does not fit in a tree of size {size}")
    for position, element in enumerate(proof):
        if len(element) != HASH_SIZE:
            raise SubtreeProofError(f"proof element {position} has {len(element)} bytes, expected {HASH_SIZE}")
    fn, sn, tn, _ = _edge_paths(start, end, size)
    remaining = list(proof)
    if fn == sn:
        # The whole subtree is a node of the tree: its root seeds both computations.
        node = root = subtree_root
    else:
        if not remaining:
            raise SubtreeProofError("proof is missing its first (seed) hash")
        node = root = remaining.pop(0)
    for element in remaining:
        if tn == 0:
            raise SubtreeProofError("proof is longer than the path to the root")
        if sn & 1 or sn == tn:
            if fn < sn:
                node = node_hash(element, node)
            root = node_hash(element, root)
            while not sn & 1:
                fn, sn, tn = fn >> 1, sn >> 1, tn >> 1
        else:
            root = node_hash(root, element)
        fn, sn, tn = fn >> 1, sn >> 1, tn >> 1
    if tn != 0:
        raise SubtreeProofError("proof is shorter than the path to the root")
    if node != subtree_root:
        raise RootMismatchError(subtree_root, node)
    return root


def verify_subtree_consistency(
    start: int, end: int, size: int, subtree_root: bytes, tree_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the subtree [start, end) with `subtree_root` is part of the tree (size, tree_root).

    An empty subtree (start == end <= size) is vacuously consistent with any tree: its root must be the
    empty-tree hash and its proof empty, and the tree root is not constrained (as the vectors require).
    """
    if start == end:
        if end > size:
            raise SubtreeProofError(f"empty subtree at {start} lies beyond a tree of size {size}")
        if proof:
            raise SubtreeProofError(f"an empty subtree needs an empty proof, got {len(proof)} hashes")
        if subtree_root != EMPTY_ROOT:
            raise RootMismatchError(EMPTY_ROOT, subtree_root)
        return
    calculated = root_from_subtree_consistency_proof(start, end, size, proof, subtree_root)
    if calculated != tree_root:
        raise RootMismatchError(tree_root, calculated)


def subtree_consistency_ranges(start: int, end: int, size: int) -> list[Range]:
    """Leaf ranges whose roots form the subtree consistency proof, in the order the verifier consumes them."""
    if not is_valid_subtree(start, end) or end > size:
        raise ValueError(f"[{start}, {end}) is not a valid subtree of a tree of size {size}")
    fn, sn, tn, level = _edge_paths(start, end, size)
    ranges: list[Range] = []
    if fn != sn:
        ranges.append((sn << level, end))
    while tn:
        if sn & 1 or sn == tn:
            while not sn & 1:
                fn, sn, tn, level = fn >> 1, sn >> 1, tn >> 1, level + 1
            ranges.append(((sn - 1) << level, sn << level))
        else:
            ranges.append(((sn + 1) << level, min((sn + 2) << level, size)))
        fn, sn, tn, level = fn >> 1, sn >> 1, tn >> 1, level + 1
    return ranges


def subtree_consistency_proof(start: int, end: int, size: int, reader: NodeReader) -> list[bytes]:
    """Generate the proof that subtree [start, end) is part of the tree of `size` leaves."""
    return read_subtree_roots(subtree_consistency_ranges(start, end, size), reader)


def subtree_inclusion_proof(index: int, start: int, end: int, reader: NodeReader) -> list[bytes]:
    """Generate the inclusion proof of leaf `index` inside the valid subtree [start, end)."""
    if not is_valid_subtree(start, end) or not start <= index < end:
        raise ValueError(f"index {index} is not inside a valid subtree [{start}, {end})")
    ranges = [(lo + start, hi + start) for lo, hi in inclusion_ranges(index - start, end - start)]
    return read_subtree_roots(ranges, reader)
