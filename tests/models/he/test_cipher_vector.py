"""Vector arithmetic on ciphertexts, run against every scheme (Paillier and OU) with the same tests."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.he import (
    CiphertextFormatError,
    CipherVector,
    FixedPointCodec,
    InlineObfuscators,
    KeyMismatchError,
    LayoutMismatchError,
    PackingLayout,
    PackingOverflowError,
)

GH = PackingLayout.plan(FixedPointCodec(frac_bits=40, max_abs=1.0), slots=2, max_additions=64)


def tolerance(layout: PackingLayout, terms: int) -> float:
    return terms * 2.0 ** -(layout.codec.frac_bits + 1) + 1e-15


def test_encrypt_decrypt_round_trip(scheme) -> None:
    _, encryptor, decryptor = scheme
    values = np.random.default_rng(1).uniform(-1, 1, (20, 2))
    assert np.allclose(
        decryptor.decrypt(encryptor.encrypt(values, GH)), values, rtol=0, atol=tolerance(GH, 1)
    )


def test_add_sub_neg_and_plain_addition(scheme) -> None:
    _, encryptor, decryptor = scheme
    rng = np.random.default_rng(2)
    a, b = rng.uniform(-1, 1, (8, 2)), rng.uniform(-1, 1, (8, 2))
    ca, cb = encryptor.encrypt(a, GH), encryptor.encrypt(b, GH)
    tol = tolerance(GH, 3)
    assert np.allclose(decryptor.decrypt(ca + cb), a + b, rtol=0, atol=tol)
    assert np.allclose(decryptor.decrypt(ca - cb), a - b, rtol=0, atol=tol)
    assert np.allclose(decryptor.decrypt(ca.neg()), -a, rtol=0, atol=tol)
    assert np.allclose(decryptor.decrypt(ca.add_plain(b)), a + b, rtol=0, atol=tol)


def test_integer_and_fixed_point_scalar_multiplication(scheme) -> None:
    keys, encryptor, decryptor = scheme
    layout = PackingLayout.scalar(FixedPointCodec(24, 10.0), keys.public.plaintext_bits)
    x = np.array([1.5, -2.25, 3.0, 0.0])
    cx = encryptor.encrypt(x, layout)
    assert np.allclose(decryptor.decrypt(cx.mul(-3)), -3 * x)
    assert np.allclose(decryptor.decrypt(cx.mul(np.array([2, -1, 0, 5]))), x * [2, -1, 0, 5])
    factors = np.array([0.5, -0.125, 2.0, 9.0])
    scaled = cx.mul_fixed(factors, frac_bits=16)
    assert scaled.layout.codec.frac_bits == 40
    assert np.allclose(decryptor.decrypt(scaled), x * factors, rtol=0, atol=1e-6)
    assert np.allclose(decryptor.decrypt(cx.mul_fixed(0.25, frac_bits=8)), x * 0.25)


@settings(max_examples=8, deadline=None)
@given(st.integers(1, 60), st.integers(1, 12), st.data())
def test_bucket_sum_matches_numpy(scheme, rows: int, n_groups: int, data: st.DataObject) -> None:
    _, encryptor, decryptor = scheme
    values = np.array(data.draw(st.lists(st.floats(-1, 1), min_size=2 * rows, max_size=2 * rows))).reshape(
        rows, 2
    )
    groups = np.array(data.draw(st.lists(st.integers(-1, n_groups - 1), min_size=rows, max_size=rows)))
    sums = encryptor.encrypt(values, GH).bucket_sum(groups, n_groups)
    expected = np.zeros((n_groups, 2))
    np.add.at(expected, groups[groups >= 0], values[groups >= 0])
    assert len(sums) == n_groups
    assert np.allclose(decryptor.decrypt(sums), expected, rtol=0, atol=tolerance(GH, rows))


def test_packing_bucket_sums_into_fewer_ciphertexts_keeps_every_value(scheme) -> None:
    keys, encryptor, decryptor = scheme
    rng = np.random.default_rng(4)
    values = rng.uniform(-1, 1, (64, 2))
    groups = rng.integers(0, 23, 64)
    sums = encryptor.encrypt(values, GH).bucket_sum(groups, 23)
    packed = sums.pack()
    per_ciphertext = GH.rows_per_plaintext(keys.public.plaintext_bits)
    assert packed.rows_per_ciphertext == per_ciphertext > 1
    assert len(packed.ciphertexts) == -(-23 // per_ciphertext)
    assert np.array_equal(decryptor.decrypt(packed), decryptor.decrypt(sums))
    # Identically packed vectors still add.
    assert np.allclose(decryptor.decrypt(packed + packed), 2 * decryptor.decrypt(sums))


def test_histogram_subtraction_of_a_subset(scheme) -> None:
    _, encryptor, decryptor = scheme
    rng = np.random.default_rng(6)
    values = rng.uniform(-1, 1, (40, 2))
    bins = rng.integers(0, 8, 40)
    left = rng.random(40) < 0.4
    encrypted = encryptor.encrypt(values, GH)
    parent = encrypted.bucket_sum(bins, 8)
    child = encrypted.bucket_sum(np.where(left, bins, -1), 8)
    sibling = parent.sub(child, other_is_subset=True)
    expected = np.zeros((8, 2))
    np.add.at(expected, bins[~left], values[~left])
    assert np.allclose(decryptor.decrypt(sibling), expected, rtol=0, atol=tolerance(GH, 80))
    assert sibling.bound == parent.bound


def test_sums_beyond_the_slot_capacity_are_refused_before_overflowing(scheme) -> None:
    _, encryptor, _ = scheme
    layout = PackingLayout.plan(FixedPointCodec(frac_bits=30, max_abs=1.0), slots=2, max_additions=4)
    fits = layout.slot_capacity // layout.codec.unit  # the plan rounds up: at least 4 additions fit
    assert fits >= 4
    encrypted = encryptor.encrypt(np.ones((fits + 1, 2)), layout)
    full = encrypted.bucket_sum(np.array([0] * fits + [-1]), 1)
    assert full.bound == fits * layout.codec.unit
    with pytest.raises(PackingOverflowError):
        encrypted.bucket_sum(np.zeros(fits + 1, dtype=int), 1)
    with pytest.raises(PackingOverflowError):
        full + encrypted.take([0])
    with pytest.raises(PackingOverflowError):
        encrypted.mul(fits + 1)


def test_vectors_under_different_keys_or_layouts_do_not_mix(scheme, paillier_keys, ou_keys) -> None:
    keys, encryptor, _ = scheme
    other_keys = ou_keys if keys is paillier_keys else paillier_keys
    a = encryptor.encrypt(np.zeros((2, 2)), GH)
    stranger = CipherVector(other_keys.public, a.ciphertexts, GH, bound=a.bound)
    with pytest.raises(KeyMismatchError):
        a + stranger
    other_layout = PackingLayout.plan(FixedPointCodec(frac_bits=20, max_abs=1.0), slots=2, max_additions=64)
    with pytest.raises(LayoutMismatchError):
        a + encryptor.encrypt(np.zeros((2, 2)), other_layout)
    with pytest.raises(LayoutMismatchError):
        a.pack().bucket_sum(np.zeros(2, dtype=int), 1)


def test_take_and_concat_select_rows(scheme) -> None:
    _, encryptor, decryptor = scheme
    values = np.arange(12, dtype=float).reshape(6, 2) / 20
    encrypted = encryptor.encrypt(values, GH)
    picked = encrypted.take([4, 1])
    joined = CipherVector.concat([picked, encrypted.take([0])])
    assert np.allclose(decryptor.decrypt(joined), values[[4, 1, 0]], rtol=0, atol=tolerance(GH, 1))


def test_bytes_round_trip_and_malformed_input(scheme) -> None:
    keys, encryptor, decryptor = scheme
    values = np.random.default_rng(8).uniform(-1, 1, (5, 2))
    packed = encryptor.encrypt(values, GH).pack(2)
    data = packed.to_bytes()
    assert len(data) == 3 * keys.public.ciphertext_bytes
    restored = CipherVector.from_bytes(keys.public, data, GH, rows=5, rows_per_ciphertext=2)
    assert restored.bound == GH.slot_capacity  # unknown bound: the receiver assumes the worst
    assert np.array_equal(decryptor.decrypt(restored), decryptor.decrypt(packed))
    with pytest.raises(CiphertextFormatError):
        CipherVector.from_bytes(keys.public, data[:-1], GH, rows=5, rows_per_ciphertext=2)
    zero = bytes(keys.public.ciphertext_bytes)
    with pytest.raises(CiphertextFormatError):
        CipherVector.from_bytes(keys.public, zero, GH, rows=1)
    too_big = int(keys.public.modulus).to_bytes(keys.public.ciphertext_bytes, "big")
    with pytest.raises(CiphertextFormatError):
        CipherVector.from_bytes(keys.public, too_big, GH, rows=1)


def test_rerandomised_vector_decrypts_the_same_with_new_ciphertexts(scheme) -> None:
    keys, encryptor, decryptor = scheme
    encrypted = encryptor.encrypt(np.ones((3, 2)) / 2, GH)
    fresh = encrypted.rerandomize(InlineObfuscators(keys.public.obfuscator_source(window_bits=6)))
    assert not set(map(int, fresh.ciphertexts)) & set(map(int, encrypted.ciphertexts))
    assert np.array_equal(decryptor.decrypt(fresh), decryptor.decrypt(encrypted))
