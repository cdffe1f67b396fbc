"""Fixed-point pairs and slot packing: sums decode exactly, overflow is refused."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.secureboost.errors import PackingOverflowError
from models.secureboost.fixed_point import PackingLayout, encode, fraction_bits_for

rows = st.integers(min_value=1, max_value=60)


@settings(max_examples=40, deadline=None)
@given(n=rows, seed=st.integers(0, 2**32 - 1), capacity=st.sampled_from([200, 1022, 2045]))
def test_any_subset_sums_of_pairs_pack_and_unpack_exactly(n: int, seed: int, capacity: int) -> None:
    rng = np.random.default_rng(seed)
    g, h = rng.uniform(-3, 3, n), rng.uniform(0, 2, n)
    bits = fraction_bits_for(g, h)
    G, H = encode(g, bits), encode(h, bits)
    layout = PackingLayout.for_tree(G, H, bits, capacity)
    pairs = layout.pairs(G, H)
    subsets = [rng.random(n) < 0.5 for _ in range(layout.slots + 3)]
    sums = [sum(p for p, s in zip(pairs, mask, strict=True) if s) for mask in subsets]
    packed = [layout.pack(sums[i:i + layout.slots]) for i in range(0, len(sums), layout.slots)]
    assert all(abs(p) < 2 ** (capacity - 1) for p in packed)
    got_G, got_H = layout.unpack_pairs(packed, len(sums))
    assert got_G.tolist() == [int(G[m].sum()) for m in subsets]
    assert got_H.tolist() == [int(H[m].sum()) for m in subsets]


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.integers(-(2**40), 2**40), min_size=1, max_size=8))
def test_signed_slots_round_trip(values: list[int]) -> None:
    layout = PackingLayout(fraction_bits=8, hess_bits=8, slot_bits=42, slots=8)
    assert layout.unpack(layout.pack(values), len(values)) == values


def test_a_value_too_wide_for_its_slot_is_refused() -> None:
    layout = PackingLayout(fraction_bits=8, hess_bits=4, slot_bits=10, slots=4)
    with pytest.raises(PackingOverflowError):
        layout.pack([1 << 9])
    with pytest.raises(PackingOverflowError):
        layout.pack([0] * 5)


def test_a_hessian_outside_its_field_is_refused() -> None:
    layout = PackingLayout(fraction_bits=8, hess_bits=4, slot_bits=12, slots=2)
    with pytest.raises(PackingOverflowError):
        layout.pair(1, 16)
    with pytest.raises(PackingOverflowError):
        layout.pairs(np.array([0]), np.array([-1]))


def test_a_layout_that_cannot_hold_one_slot_is_refused() -> None:
    G = np.full(10, 2**40, dtype=np.int64)
    with pytest.raises(PackingOverflowError):
        PackingLayout.for_tree(G, G, 32, capacity_bits=60)


def test_fraction_bits_shrink_for_large_gradients_so_sums_fit_int64() -> None:
    g = np.full(1000, 1e6)
    bits = fraction_bits_for(g, np.ones(1000))
    assert bits < 32
    assert int(np.sum(encode(g, bits), dtype=np.int64)) < 2**62
