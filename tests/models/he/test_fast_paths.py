"""The key owner's fast paths: signed fixed-base tables, OU's g^m for large batches, batched exponents."""

from __future__ import annotations

import random
import secrets

import gmpy2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.he import InlineObfuscators, OUKeypair, OUParams, PaillierKeypair, PaillierParams
from models.he.fixed_base import SignedFixedBase
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
