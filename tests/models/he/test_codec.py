"""Fixed-point packing: sums of up to max_additions rows never overflow a slot or bleed into its neighbour."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.he import FixedPointCodec, PackingLayout, PlaintextRangeError

PLAINTEXT_BITS = 1022  # a 1024-bit Paillier modulus


@st.composite
def planned_layouts(draw: st.DrawFn) -> tuple[PackingLayout, int]:
    max_abs = draw(st.sampled_from([0.25, 1.0, 3.5, 1000.0]))
    # Keep max_abs * 2^frac_bits within the codec's 62-bit encoding range.
    codec = FixedPointCodec(
        frac_bits=draw(st.integers(0, 61 - math.ceil(math.log2(max_abs)))), max_abs=max_abs
    )
    max_additions = draw(st.integers(1, 5000))
    return PackingLayout.plan(
        codec, slots=draw(st.integers(1, 4)), max_additions=max_additions
    ), max_additions


def layouts() -> st.SearchStrategy[PackingLayout]:
    return planned_layouts().map(lambda planned: planned[0])


def draw_rows(data: st.DataObject, layout: PackingLayout, count: int, *, extreme: bool = False) -> np.ndarray:
    limit = layout.codec.max_abs
    # Extreme rows put every value at +-max_abs: the worst case for the slot width.
    element = st.sampled_from([-limit, limit]) if extreme else st.floats(-limit, limit)
    size = count * layout.slots
    return np.array(data.draw(st.lists(element, min_size=size, max_size=size))).reshape(count, layout.slots)


@settings(max_examples=60, deadline=None)
@given(layouts(), st.integers(1, 40), st.data())
def test_pack_then_unpack_returns_the_fixed_point_values(
    layout: PackingLayout, count: int, data: st.DataObject
) -> None:
    rows = draw_rows(data, layout, count)
    unpacked = layout.unpack(layout.pack(rows))
    assert unpacked.shape == rows.shape
    assert np.all(np.abs(unpacked - rows) <= 2.0 ** -(layout.codec.frac_bits + 1))


@settings(max_examples=60, deadline=None)
@given(planned_layouts(), st.integers(1, 40), st.booleans(), st.data())
def test_sum_of_up_to_max_additions_packed_rows_is_exact_in_every_slot(
    planned: tuple[PackingLayout, int], count: int, extreme: bool, data: st.DataObject
) -> None:
    layout, max_additions = planned
    count = min(count, max_additions)
    rows = draw_rows(data, layout, count, extreme=extreme)
    # Repeat the rows so the number of summands can reach the planned maximum.
    repeats = data.draw(st.integers(1, max_additions // count))
    assert count * repeats <= max_additions
    total = sum(layout.pack(rows)) * repeats
    expected = [int(v) * repeats for v in layout.codec.encode(rows).astype(object).sum(axis=0)]
    assert layout.split([total]) == expected


@settings(max_examples=40, deadline=None)
@given(layouts(), st.integers(2, 6), st.data())
def test_rows_packed_side_by_side_stay_separate(
    layout: PackingLayout, rows_per_plaintext: int, data: st.DataObject
) -> None:
    if rows_per_plaintext * layout.row_bits > PLAINTEXT_BITS:
        rows_per_plaintext = max(1, layout.rows_per_plaintext(PLAINTEXT_BITS))
    limit = layout.codec.max_abs
    values = np.array(
        data.draw(
            st.lists(
                st.floats(-limit, limit),
                min_size=rows_per_plaintext * layout.slots,
                max_size=rows_per_plaintext * layout.slots,
            )
        )
    ).reshape(rows_per_plaintext, layout.slots)
    packed = layout.pack(values)
    # Shift-and-add, as the ciphertext operation c_j^(2^(j*row_bits)) does on plaintexts.
    combined = sum(p << (j * layout.row_bits) for j, p in enumerate(packed))
    assert abs(combined) < 1 << (PLAINTEXT_BITS - 1)
    unpacked = layout.unpack([combined], rows_per_plaintext)
    assert np.array_equal(unpacked, layout.unpack(packed))


def test_plan_reserves_exactly_enough_bits_for_the_worst_case_sum() -> None:
    codec = FixedPointCodec(frac_bits=53, max_abs=1.0)
    layout = PackingLayout.plan(codec, slots=2, max_additions=30_000)
    worst = codec.unit * 30_000
    assert worst <= layout.slot_capacity
    assert worst > (1 << (layout.slot_bits - 2)) - 1  # one bit fewer would not hold it
    assert layout.rows_per_plaintext(2046) == 2046 // (2 * layout.slot_bits)


def test_encode_refuses_values_outside_the_declared_range() -> None:
    codec = FixedPointCodec(frac_bits=20, max_abs=1.0)
    with pytest.raises(PlaintextRangeError):
        codec.encode(np.array([0.5, 1.5]))
    with pytest.raises(PlaintextRangeError):
        codec.encode(np.array([math.nan]))


def test_secureboost_shape_packs_gradient_and_hessian_per_sample() -> None:
    codec = FixedPointCodec(frac_bits=53, max_abs=1.0)
    layout = PackingLayout.plan(codec, slots=2, max_additions=1 << 20)
    rng = np.random.default_rng(3)
    gh = np.column_stack([rng.uniform(-1, 1, 1000), rng.uniform(0, 0.25, 1000)])
    bucket = rng.integers(0, 32, 1000)
    packed = layout.pack(gh)
    sums = [sum(p for p, b in zip(packed, bucket, strict=True) if b == k) for k in range(32)]
    expected = np.zeros((32, 2))
    np.add.at(expected, bucket, gh)
    assert np.allclose(layout.unpack(sums), expected, rtol=0, atol=1000 * 2.0**-53)
