"""Okamoto-Uchiyama specifics: key structure and the range check that guards against its CCA weakness."""

from __future__ import annotations

import random

import gmpy2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.he import (
    CipherVector,
    Decryptor,
    FixedPointCodec,
    InlineObfuscators,
    InsecureParametersError,
    OUKeypair,
    OUParams,
    OUPublicKey,
    OUSecretKey,
    PackingLayout,
    PlaintextRangeError,
)
from models.he.ou import RANGE_MARGIN_BITS


def test_key_structure(ou_keys: OUKeypair) -> None:
    secret, public = ou_keys.secret, ou_keys.public
    assert secret.p**2 * secret.q == public.n
    assert public.plaintext_bits == int(secret.p).bit_length() - 1 - RANGE_MARGIN_BITS
    assert public.ciphertext_bytes == (int(public.n).bit_length() + 7) // 8
    # Ciphertexts are about half the size of Paillier's (256 bytes at 1024 bits); primes are rounded up so
    # that n is never below the requested size, which may add a byte.
    assert public.ciphertext_bytes <= 129


def test_generation_is_reproducible_with_an_injected_rng() -> None:
    params = OUParams(key_bits=768, allow_insecure_for_tests=True)
    assert (
        OUKeypair.generate(params, random.Random(3)).public
        == OUKeypair.generate(params, random.Random(3)).public
    )


def _vector_of(ou_keys: OUKeypair, exponent: int) -> CipherVector:
    """A ciphertext of g^exponent: what a cheating party could send to the key holder."""
    public = ou_keys.public
    layout = PackingLayout.scalar(FixedPointCodec(0, 1.0), public.plaintext_bits)
    return CipherVector(public, [gmpy2.powmod(public.g, exponent, public.n)], layout, bound=0)


def test_decryptions_outside_the_plaintext_range_are_refused(ou_keys: OUKeypair) -> None:
    decryptor = Decryptor(ou_keys.secret)
    limit = 1 << (ou_keys.public.plaintext_bits - 1)
    assert decryptor.decrypt_integers(_vector_of(ou_keys, limit - 1)) == [limit - 1]
    with pytest.raises(PlaintextRangeError):
        decryptor.decrypt_integers(_vector_of(ou_keys, limit))
    # An attacker who does not know p picks M beyond p; M mod p is almost surely out of range.
    with pytest.raises(PlaintextRangeError):
        decryptor.decrypt_integers(_vector_of(ou_keys, 3 << ou_keys.public.prime_bits))
    # So is a random group element.
    junk = random.Random(5).randrange(2, int(ou_keys.public.n))
    layout = PackingLayout.scalar(FixedPointCodec(0, 1.0), ou_keys.public.plaintext_bits)
    with pytest.raises(PlaintextRangeError):
        decryptor.decrypt_integers(CipherVector(ou_keys.public, [gmpy2.mpz(junk)], layout, bound=0))


def test_encryption_refuses_plaintexts_beyond_the_range(ou_keys: OUKeypair) -> None:
    source = ou_keys.public.obfuscator_source(window_bits=6)
    batch = source.generator().generate(1)
    with pytest.raises(PlaintextRangeError):
        ou_keys.public.encrypt_raw([1 << ou_keys.public.plaintext_bits], batch)


def test_negative_values_round_trip(scheme) -> None:
    keys, encryptor, decryptor = scheme
    layout = PackingLayout.scalar(FixedPointCodec(0, 2.0**60), keys.public.plaintext_bits)
    values = np.array([-(2**59), -1, 0, 1, 2**59])
    assert decryptor.decrypt_integers(encryptor.encrypt(values, layout)) == values.tolist()


@pytest.mark.parametrize("seed", range(6))
def test_a_ciphertexts_jacobi_symbol_does_not_depend_on_its_plaintext(seed: int) -> None:
    # (c/n) is computable by anyone: it must equal the obfuscator's symbol whatever the plaintext.
    keys = OUKeypair.generate(OUParams(key_bits=768, allow_insecure_for_tests=True), random.Random(seed))
    n = keys.public.n
    assert gmpy2.jacobi(keys.public.g, n) == 1
    obfuscator = InlineObfuscators(keys.secret.obfuscator_source(window_bits=6), random.Random(seed)).take(1)
    symbol = gmpy2.jacobi(obfuscator.values[0], n)
    for m in (0, 1, 2, 3, -1, 12345):
        # The same obfuscator for every plaintext: only acceptable because nothing leaves this test.
        assert gmpy2.jacobi(keys.public.encrypt_raw([m], obfuscator)[0], n) == symbol


def test_a_key_whose_g_has_jacobi_symbol_minus_one_is_refused(ou_keys: OUKeypair) -> None:
    public = ou_keys.public
    rng = random.Random(11)
    while gmpy2.jacobi(bad := gmpy2.mpz(rng.getrandbits(int(public.n).bit_length())) % public.n, public.n) != -1:
        pass
    with pytest.raises(InsecureParametersError, match="Jacobi"):
        OUPublicKey(public.n, bad, public.h, public.prime_bits, public.params)


@settings(max_examples=60, deadline=None)
@given(plaintext=st.integers(min_value=-(2**200), max_value=2**200), seed=st.integers(0, 2**32))
def test_the_key_owners_encryption_is_a_public_encryption_with_a_shifted_obfuscator(
        ou_keys: OUKeypair, plaintext: int, seed: int) -> None:
    # he.md section 6: with h = g^n, g = u g_H and g_H = h^s (s = n^-1 mod lcm(p-1, q-1)), so the owner's
    # u^m r equals the public g^m (h^(-m s) r): an ordinary ciphertext whose obfuscator is r times a power of h.
    secret, public = ou_keys.secret, ou_keys.public
    n = public.n
    assert gmpy2.powmod(public.g, n, n) == public.h
    batch = InlineObfuscators(secret.obfuscator_source(window_bits=6), random.Random(seed)).take(1)
    owner = secret.encrypt_raw([plaintext], batch)[0]
    s = gmpy2.invert(n, gmpy2.lcm(secret.p - 1, secret.q - 1))
    shifted = batch.values[0] * gmpy2.powmod(public.h, -plaintext * s % gmpy2.lcm(secret.p - 1, secret.q - 1), n)
    assert owner == gmpy2.powmod(public.g, plaintext, n) * shifted % n
    assert 0 < owner < n and gmpy2.jacobi(owner, n) == gmpy2.jacobi(batch.values[0], n)
    assert secret.decrypt_raw([owner]) == [plaintext]


def test_the_key_owners_encryption_refuses_plaintexts_beyond_the_range(ou_keys: OUKeypair) -> None:
    batch = ou_keys.secret.obfuscator_source(window_bits=6).generator().generate(1)
    with pytest.raises(PlaintextRangeError):
        ou_keys.secret.encrypt_raw([-(1 << ou_keys.public.plaintext_bits)], batch)


def test_a_key_whose_h_is_not_g_to_the_n_is_encrypted_the_public_way(ou_keys: OUKeypair) -> None:
    # Keys made before h = g^n: the owner's shortcut would not be an ordinary ciphertext, so it is not taken.
    public, secret = ou_keys.public, ou_keys.secret
    other_h = gmpy2.powmod(gmpy2.mpz(12345), public.n, public.n)
    older = OUPublicKey(public.n, public.g, other_h, public.prime_bits, public.params)
    older_secret = OUSecretKey(older, secret.p, secret.q)
    batch = InlineObfuscators(older_secret.obfuscator_source(window_bits=6), random.Random(2)).take(3)
    assert older_secret.encrypt_raw([5, -7, 0], batch) == older.encrypt_raw([5, -7, 0], batch)
    assert older_secret.decrypt_raw(older_secret.encrypt_raw([5, -7, 0], batch)) == [5, -7, 0]
