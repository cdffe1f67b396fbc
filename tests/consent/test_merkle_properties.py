"""Invariants of the Merkle math against an independent textbook MTH, with hypothesis."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consent.merkle import (
    EMPTY_ROOT,
    Frontier,
    MemoryTree,
    ProofError,
    consistency_proof,
    inclusion_proof,
    is_valid_subtree,
    leaf_hash,
    root_of_leaf_hashes,
    subtree_consistency_proof,
    subtree_inclusion_proof,
    tree_root,
    verify_consistency,
    verify_inclusion,
    verify_subtree_consistency,
    verify_subtree_inclusion,
)

MAX = 600
ENTRIES = [f"entry-{i}".encode() for i in range(MAX)]
TREE = MemoryTree(ENTRIES)
PROPERTY = settings(max_examples=150, deadline=None)


def textbook_mth(entries: list[bytes]) -> bytes:
    """RFC 9162 2.1.1 written literally (recursive, slow): the reference the fast code is checked against."""
    n = len(entries)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + entries[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + textbook_mth(entries[:k]) + textbook_mth(entries[k:])).digest()


def flip(data: bytes, bit: int) -> bytes:
    position = bit % (len(data) * 8)
    mutated = bytearray(data)
    mutated[position // 8] ^= 1 << (position % 8)
    return bytes(mutated)


sizes = st.integers(min_value=1, max_value=MAX)


@st.composite
def index_in_tree(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(sizes)
    return draw(st.integers(0, size - 1)), size


@st.composite
def two_sizes(draw: st.DrawFn) -> tuple[int, int]:
    new = draw(sizes)
    return draw(st.integers(1, new)), new


@st.composite
def subtree_in_tree(draw: st.DrawFn) -> tuple[int, int, int]:
    size = draw(sizes)
    width = draw(st.integers(1, size))
    slots = (size - width) // (1 << (width - 1).bit_length()) if width > 1 else size - 1
    start = draw(st.integers(0, max(slots, 0))) * (1 << (width - 1).bit_length() if width > 1 else 1)
    end = start + width
    if end > size or not is_valid_subtree(start, end):
        start, end = 0, width
    return start, end, size


@PROPERTY
@given(st.integers(0, 140))
def test_roots_match_the_textbook_definition(size: int) -> None:
    expected = textbook_mth(ENTRIES[:size])
    assert TREE.root(size) == expected
    assert tree_root(size, TREE) == expected
    assert root_of_leaf_hashes([leaf_hash(e) for e in ENTRIES[:size]]) == expected


def test_empty_tree_root_is_hash_of_empty_string() -> None:
    assert MemoryTree().root() == EMPTY_ROOT == Frontier().root()


@PROPERTY
@given(sizes)
def test_frontier_serialises_and_completes_exactly_the_stored_nodes(size: int) -> None:
    frontier = Frontier()
    completed = {}
    for entry in ENTRIES[:size]:
        for node, value in frontier.append(leaf_hash(entry)):
            completed[node] = value
    assert frontier.root() == TREE.root(size)
    assert completed == dict(TREE.node_hashes(list(completed)))
    assert len(completed) == size - size.bit_count()  # every perfect node above the leaves, once
    again = Frontier.from_bytes(size, frontier.to_bytes())
    assert again.root() == frontier.root()


@PROPERTY
@given(index_in_tree(), st.integers(0, 2**16))
def test_inclusion_proofs_verify_and_any_bit_flip_fails(case: tuple[int, int], bit: int) -> None:
    index, size = case
    proof = inclusion_proof(index, size, TREE)
    leaf, root = TREE.leaf_hash(index), TREE.root(size)
    verify_inclusion(leaf, index, size, proof, root)
    with pytest.raises(ProofError):
        verify_inclusion(flip(leaf, bit), index, size, proof, root)
    with pytest.raises(ProofError):
        verify_inclusion(leaf, index, size, proof, flip(root, bit))
    if proof:
        element = bit % len(proof)
        mutated = [*proof[:element], flip(proof[element], bit), *proof[element + 1 :]]
        with pytest.raises(ProofError):
            verify_inclusion(leaf, index, size, mutated, root)


@PROPERTY
@given(index_in_tree(), st.integers(-MAX, MAX).filter(lambda d: d != 0))
def test_inclusion_fails_for_a_shifted_index_or_another_size(case: tuple[int, int], delta: int) -> None:
    index, size = case
    proof = inclusion_proof(index, size, TREE)
    leaf = TREE.leaf_hash(index)
    with pytest.raises(ProofError):
        verify_inclusion(leaf, index + delta, size, proof, TREE.root(size))
    other = size + delta
    if 0 <= other <= MAX:
        with pytest.raises(ProofError):
            verify_inclusion(leaf, index, other, proof, TREE.root(other))


@PROPERTY
@given(two_sizes(), st.integers(0, 2**16))
def test_consistency_proofs_verify_and_any_bit_flip_fails(case: tuple[int, int], bit: int) -> None:
    old, new = case
    proof = consistency_proof(old, new, TREE)
    old_root, new_root = TREE.root(old), TREE.root(new)
    verify_consistency(old, new, old_root, new_root, proof)
    if old == new:
        assert proof == []
        with pytest.raises(ProofError):
            verify_consistency(old, new, old_root, flip(new_root, bit), proof)
        return
    with pytest.raises(ProofError):
        verify_consistency(old, new, flip(old_root, bit), new_root, proof)
    with pytest.raises(ProofError):
        verify_consistency(old, new, old_root, flip(new_root, bit), proof)
    element = bit % len(proof)
    mutated = [*proof[:element], flip(proof[element], bit), *proof[element + 1 :]]
    with pytest.raises(ProofError):
        verify_consistency(old, new, old_root, new_root, mutated)


@PROPERTY
@given(two_sizes(), st.integers(-MAX, MAX).filter(lambda d: d != 0))
def test_consistency_fails_for_changed_sizes(case: tuple[int, int], delta: int) -> None:
    old, new = case
    proof = consistency_proof(old, new, TREE)
    if 1 <= old + delta <= MAX:
        other = old + delta
        with pytest.raises(ProofError):
            verify_consistency(other, new, TREE.root(other), TREE.root(new), proof)
    if 1 <= new + delta <= MAX:
        other = new + delta
        with pytest.raises(ProofError):
            verify_consistency(old, other, TREE.root(old), TREE.root(other), proof)


@PROPERTY
@given(subtree_in_tree(), st.integers(0, 2**16))
def test_subtree_proofs_verify_and_any_bit_flip_fails(case: tuple[int, int, int], bit: int) -> None:
    start, end, size = case
    sub_root = textbook_mth(ENTRIES[start:end])
    proof = subtree_consistency_proof(start, end, size, TREE)
    verify_subtree_consistency(start, end, size, sub_root, TREE.root(size), proof)
    with pytest.raises(ProofError):
        verify_subtree_consistency(start, end, size, flip(sub_root, bit), TREE.root(size), proof)
    if proof:
        element = bit % len(proof)
        mutated = [*proof[:element], flip(proof[element], bit), *proof[element + 1 :]]
        with pytest.raises(ProofError):
            verify_subtree_consistency(start, end, size, sub_root, TREE.root(size), mutated)
    index = start + bit % (end - start)
    inner = subtree_inclusion_proof(index, start, end, TREE)
    verify_subtree_inclusion(TREE.leaf_hash(index), index, start, end, inner, sub_root)
    if start == 0:  # a prefix subtree is an old tree: the proof is the RFC 9162 consistency proof
        assert proof == (consistency_proof(end, size, TREE) if end < size else [])
