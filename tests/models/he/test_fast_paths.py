"""The key owner's fast paths: signed fixed-base tables, OU's g^m for large batches, batched exponents."""

from __future__ import annotations

import random
import secrets

import gmpy2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.he import InlineObfuscators, OUKeypair, OUParams, PaillierKeypair, PaillierParams
from models.he.fixed_base import BandedFixedBase, SignedFixedBase, zero_band
from models.he.ou import WIDE_TABLE_BATCH

P, Q = gmpy2.next_prime(2**127 + 12345), gmpy2.next_prime(2**127 + 99999)


@settings(max_examples=40, deadline=None)
@given(st.integers(-(2**90) + 1, 2**90 - 1), st.integers(2, 10**30), st.integers(1, 12))
def test_signed_table_matches_powmod_for_both_signs(exponent: int, base: int, window_bits: int) -> None:
    modulus = P * Q
    table = SignedFixedBase(base, modulus, 90, window_bits)
    assert table.magnitude_bits >= 90
    assert table.powers([exponent, -exponent]) == [gmpy2.powmod(base, exponent, modulus),
                                                   gmpy2.powmod(base, -exponent, modulus)]


def test_signed_table_refuses_exponents_beyond_its_size() -> None:
    table = SignedFixedBase(3, P * Q, 20, 8)
    edge = 1 << table.magnitude_bits
    assert table.powers([edge - 1, -edge]) == [gmpy2.powmod(3, edge - 1, P * Q), gmpy2.powmod(3, -edge, P * Q)]
    for bad in (edge, -edge - 1):
        with pytest.raises(ValueError):
            table.powers([bad])


def test_ou_large_batches_with_repeats_decrypt_and_never_repeat_a_ciphertext(ou_keys: OUKeypair) -> None:
    rng = random.Random(5)
    # SecureBoost's early trees: few distinct (g, h) pairs, encrypted in batches of thousands.
    distinct = [rng.randrange(-(2**70), 2**70) for _ in range(7)]
    plaintexts = [distinct[rng.randrange(7)] for _ in range(WIDE_TABLE_BATCH)] + [-(2**75), 2**75 - 1, 0]
    supply = InlineObfuscators(ou_keys.secret.obfuscator_source(window_bits=6))
    ciphertexts = ou_keys.public.encrypt_raw(plaintexts, supply.take(len(plaintexts)))
    assert len(set(ciphertexts)) == len(plaintexts)
    assert ou_keys.secret.decrypt_raw(ciphertexts) == plaintexts
    # A wider plaintext later rebuilds the table instead of failing.
    wide = [2**100 + 3, -(2**100)]
    assert ou_keys.secret.decrypt_raw(ou_keys.public.encrypt_raw(wide, supply.take(2))) == wide


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(-(2**33) + 1, 2**33 - 1), st.integers(0, 2**20 - 1)), min_size=1, max_size=20),
       st.integers(21, 40), st.integers(2, 10**30))
def test_banded_table_matches_powmod_for_two_field_plaintexts(fields, shift: int, base: int) -> None:
    modulus = P * Q
    plaintexts = [(hi << shift) + lo for hi, lo in fields]
    table = BandedFixedBase(base, modulus, 20, shift, 33, 17)
    assert table.fits(20, shift, 33)
    assert table.powers(plaintexts) == [gmpy2.powmod(base, m, modulus) for m in plaintexts]


def test_zero_band_finds_the_gap_between_two_fields() -> None:
    values = [(-5 << 45) + 3, (7 << 45) + (1 << 30) - 1, (2**32 << 45)]
    assert zero_band(values, 80) == (30, 45)
    assert zero_band([(1 << 40) - 1, 5], 45) is None  # no run of 8 zero bits with set bits below it
    assert zero_band([0, 0], 10) is None


def test_ou_batches_of_secureboost_pairs_skip_their_zero_band_and_decrypt(ou_keys: OUKeypair) -> None:
    rng = random.Random(9)
    # (g << 45) + h with |g| <= 2^32 and 0 <= h <= 2^30: bits 31-44 are zero in every pair.
    plaintexts = [(rng.randrange(-(2**32), 2**32 + 1) << 45) + rng.randrange(2**30 + 1)
                  for _ in range(WIDE_TABLE_BATCH)]
    supply = InlineObfuscators(ou_keys.secret.obfuscator_source(window_bits=6))
    ciphertexts = ou_keys.public.encrypt_raw(plaintexts, supply.take(len(plaintexts)))
    assert ou_keys.public._g_band is not None and ou_keys.public._g_band.shift == 45
    assert ou_keys.secret.decrypt_raw(ciphertexts) == plaintexts
    # A batch without the band (or a small one) goes through the one-table path, and still decrypts.
    plain = [rng.randrange(-(2**70), 2**70) for _ in range(WIDE_TABLE_BATCH)]
    assert ou_keys.secret.decrypt_raw(ou_keys.public.encrypt_raw(plain, supply.take(len(plain)))) == plain


@pytest.mark.parametrize("scheme_name", ["paillier", "ou"])
def test_short_exponent_obfuscators_from_the_os_rng_encrypt_zero(scheme_name: str) -> None:
    # The production path draws a whole batch of exponents with one read of the OS CSPRNG.
    if scheme_name == "paillier":
        keys = PaillierKeypair.generate(PaillierParams(key_bits=1024, exponent_bits=160, allow_insecure_for_tests=True))
    else:
        keys = OUKeypair.generate(OUParams(key_bits=1026, exponent_bits=160, allow_insecure_for_tests=True), random.Random(8))
    batch = keys.secret.obfuscator_source(window_bits=6).generator().generate(64, secrets.SystemRandom())
    assert len(set(batch.values)) == 64
    assert keys.secret.decrypt_raw(batch.values) == [0] * 64
