"""Proof verification following RFC 9162 sections 2.1.3.2 and 2.1.4.2.

Preconditions (sizes, index, hash lengths, proof length) are checked first and raise
`InclusionProofError` / `ConsistencyProofError` saying what was expected; a well-formed proof that leads to
another root raises `RootMismatchError(expected, calculated)`.
"""

from __future__ import annotations

from collections.abc import Sequence

from consent.merkle.errors import ConsistencyProofError, InclusionProofError, RootMismatchError
from consent.merkle.hashing import HASH_SIZE, node_hash


def _check_hash_sizes(proof: Sequence[bytes], error: type[Exception]) -> None:
    for position, element in enumerate(proof):
        if len(element) != HASH_SIZE:
            raise error(f"proof element {position} has {len(element)} bytes, expected {HASH_SIZE}")


def _inclusion_length(index: int, size: int) -> int:
    """Number of iterations of the RFC 9162 inclusion loop until sn reaches 0: the exact proof length."""
    fn, sn, count = index, size - 1, 0
    while sn:
        if fn & 1 or fn == sn:
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        fn, sn, count = fn >> 1, sn >> 1, count + 1
    return count


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root implied by `proof` for leaf hash `leaf` at `index`. Requires 0 <= index < size."""
    if not 0 <= index < size:
        raise InclusionProofError(f"leaf index {index} is outside a tree of size {size}")
    if len(leaf) != HASH_SIZE:
        raise InclusionProofError(f"leaf hash has {len(leaf)} bytes, expected {HASH_SIZE}")
    expected = _inclusion_length(index, size)
    if len(proof) != expected:
        raise InclusionProofError(f"proof has {len(proof)} hashes, expected {expected} for {index}/{size}")
    _check_hash_sizes(proof, InclusionProofError)
    # RFC 9162 2.1.3.2 steps 2-5: walk up; fn is the path to the leaf, sn the path to the last leaf.
    fn, sn, result = index, size - 1, leaf
    for sibling in proof:
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            result = node_hash(result, sibling)
        fn, sn = fn >> 1, sn >> 1
    return result


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Check that leaf hash `leaf` sits at `index` in the tree of `size` leaves whose root is `root`."""
    calculated = root_from_inclusion_proof(index, size, leaf, proof)
    if calculated != root:
        raise RootMismatchError(root, calculated)


def _consistency_length(old_size: int, new_size: int) -> int:
    """Exact proof length for 0 < old_size < new_size, by running the RFC 9162 loop without hashing."""
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    count = 1  # the seed: either the old root (prepended) or the first proof element
    while sn:
        if fn & 1 or fn == sn:
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        fn, sn, count = fn >> 1, sn >> 1, count + 1
    power_of_two = old_size & (old_size - 1) == 0
    return count - 1 if power_of_two else count


def root_from_consistency_proof(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes
) -> bytes:
    """The new root implied by `proof` once it has reproduced `old_root`. Requires 0 < old_size <= new_size."""
    if old_size < 1:
        raise ConsistencyProofError("a consistency proof from an empty tree is meaningless (old size 0)")
    if new_size < old_size:
        raise ConsistencyProofError(f"new size {new_size} is smaller than old size {old_size}")
    if old_size == new_size:
        if proof:
            raise ConsistencyProofError(f"equal sizes need an empty proof, got {len(proof)} hashes")
        return old_root
    if not proof:
        raise ConsistencyProofError(f"empty proof for sizes {old_size} -> {new_size}")
    expected = _consistency_length(old_size, new_size)
    if len(proof) != expected:
        raise ConsistencyProofError(
            f"proof has {len(proof)} hashes, expected {expected} for {old_size} -> {new_size}"
        )
    _check_hash_sizes(proof, ConsistencyProofError)
    # RFC 9162 2.1.4.2 step 2: a power-of-two old tree is itself a node, so the proof omits its root.
    path = [old_root, *proof] if old_size & (old_size - 1) == 0 else list(proof)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    old_calc = new_calc = path[0]
    for element in path[1:]:
        if fn & 1 or fn == sn:
            old_calc = node_hash(element, old_calc)
            new_calc = node_hash(element, new_calc)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            new_calc = node_hash(new_calc, element)
        fn, sn = fn >> 1, sn >> 1
    if old_calc != old_root:
        raise RootMismatchError(old_root, old_calc)
    return new_calc


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree (old_size, old_root) is a prefix of the tree (new_size, new_root)."""
    calculated = root_from_consistency_proof(old_size, new_size, proof, old_root)
    if calculated != new_root:
        raise RootMismatchError(new_root, calculated)
