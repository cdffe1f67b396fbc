"""DJN obfuscators: fixed-base tables compute the right powers, and obfuscators encrypt zero."""

from __future__ import annotations

import random

import gmpy2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.he import (
    Decryptor,
    Encryptor,
    InlineObfuscators,
    ObfuscatorSource,
    OUKeypair,
    OUParams,
    PaillierKeypair,
    PaillierParams,
)
from models.he.cipher_vector import CipherVector
from models.he.codec import FixedPointCodec, PackingLayout
from models.he.fixed_base import CrtFixedBase, FixedBaseTable

P, Q = gmpy2.next_prime(2**127 + 12345), gmpy2.next_prime(2**127 + 99999)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**200 - 1), st.integers(2, 10**30), st.integers(1, 9))
def test_fixed_base_power_matches_powmod(exponent: int, base: int, window_bits: int) -> None:
    modulus = P * Q
    table = FixedBaseTable(base, modulus, 200, window_bits)
    assert table.power(exponent) == gmpy2.powmod(base, exponent, modulus)
    batch = [exponent, 0, 2**200 - 1, exponent >> 7]
    assert table.powers(batch) == [gmpy2.powmod(base, e, modulus) for e in batch]


def test_crt_fixed_base_matches_the_direct_table() -> None:
    m1, m2 = P * P, Q * Q
    direct = FixedBaseTable(7, m1 * m2, 128, 8)
    crt = CrtFixedBase(7, m1, m2, (128, 128), 8)
    rng = random.Random(1)
    for _ in range(20):
        e, f = rng.getrandbits(128), rng.getrandbits(128)
        assert crt.power(e) == direct.power(e) == gmpy2.powmod(7, e, m1 * m2)
        both = crt.power_pair(e, f)
        assert both % m1 == gmpy2.powmod(7, e, m1) and both % m2 == gmpy2.powmod(7, f, m2)
    batch = [rng.getrandbits(128) for _ in range(9)] + [0, 2**128 - 1]
    assert crt.powers(batch) == direct.powers(batch) == [gmpy2.powmod(7, e, m1 * m2) for e in batch]
    with pytest.raises(ValueError):
        crt.powers([2**128])


def _order(x: int, modulus: int, multiple: int) -> int:
    """The multiplicative order of x, given a multiple of it (toy sizes only)."""
    return min(d for d in range(1, multiple + 1) if multiple % d == 0 and pow(x, d, modulus) == 1)


def test_key_holder_obfuscators_are_uniform_in_the_subgroup_of_the_base() -> None:
    # Toy Paillier modulus: the CRT path draws exponents uniformly modulo p - 1 and q - 1, so every element
    # of <h_s mod p^2> x <h_s mod q^2> must come out, about equally often.
    p, q = 23, 47
    n, p2, q2 = p * q, p * p, q * q
    h_s = pow(n - 5 * 5 % n, n, n * n)
    source = ObfuscatorSource(
        modulus=n * n, base=h_s, exponent_bits=8, window_bits=3, crt=(p2, q2), crt_orders=(p - 1, q - 1)
    )
    support = _order(h_s % p2, p2, p - 1) * _order(h_s % q2, q2, q - 1)
    draws = 40 * support
    counts: dict[int, int] = {}
    for value in source.generator().generate(draws, random.Random(11)).values:
        counts[int(value)] = counts.get(int(value), 0) + 1
    assert len(counts) == support
    chi2 = sum((c - 40) ** 2 / 40 for c in counts.values())
    # Mean support - 1, standard deviation sqrt(2 (support - 1)): 8 deviations is far beyond chance.
    assert chi2 < support - 1 + 8 * (2 * (support - 1)) ** 0.5


def test_source_refuses_a_wrong_crt_order() -> None:
    p, q = 23, 47
    n = p * q
    with pytest.raises(ValueError):
        ObfuscatorSource(
            modulus=n * n, base=2, exponent_bits=8, crt=(p * p, q * q), crt_orders=(p - 1, q - 1)
        )


def test_table_refuses_exponents_beyond_its_length() -> None:
    table = FixedBaseTable(3, P, 64, 8)
    with pytest.raises(ValueError):
        table.power(2**64)


def test_source_round_trips_through_bytes(paillier_keys) -> None:
    source = paillier_keys.secret.obfuscator_source(window_bits=6)
    assert ObfuscatorSource.from_bytes(source.to_bytes()) == source


def test_secret_and_public_sources_use_the_configured_exponent_length(paillier_keys) -> None:
    secret_source = paillier_keys.secret.obfuscator_source()
    public_source = paillier_keys.public.obfuscator_source()
    assert public_source.exponent_bits == secret_source.exponent_bits == 160  # 2 x 80 for a test-size key
    assert secret_source.crt is not None and public_source.crt is None and secret_source.crt_orders is None
    assert secret_source.modulus == public_source.modulus == int(paillier_keys.public.nsquare)


def test_half_length_exponents_make_the_key_owner_draw_uniform_exponents_per_crt_half() -> None:
    keys = PaillierKeypair.generate(PaillierParams(key_bits=1024, exponent_bits=512, allow_insecure_for_tests=True))
    source = keys.secret.obfuscator_source(window_bits=6)
    assert source.crt_orders == (int(keys.secret.p) - 1, int(keys.secret.q) - 1)
    layout = PackingLayout.scalar(FixedPointCodec(0, 1.0), keys.public.plaintext_bits)
    batch = source.generator().generate(3, random.Random(3))
    assert Decryptor(keys.secret).decrypt_integers(CipherVector(keys.public, batch.values, layout, bound=0)) == [0] * 3


@pytest.mark.parametrize("holder", ["secret", "public"])
def test_obfuscators_are_encryptions_of_zero(scheme, holder: str) -> None:
    keys, _, decryptor = scheme
    source = (keys.secret if holder == "secret" else keys.public).obfuscator_source(window_bits=6)
    batch = source.generator().generate(5, random.Random(2))
    assert len(set(batch.values)) == 5
    if batch.reduced is not None:
        assert batch.reduced == [v % keys.public.n for v in batch.values]
    layout = PackingLayout.scalar(FixedPointCodec(0, 1.0), keys.public.plaintext_bits)
    zeros = CipherVector(keys.public, batch.values, layout, bound=0)
    assert decryptor.decrypt_integers(zeros) == [0] * 5


def test_public_and_secret_key_holders_produce_compatible_ciphertexts(paillier_keys) -> None:
    decryptor = Decryptor(paillier_keys.secret)
    layout = PackingLayout.scalar(FixedPointCodec(16, 8.0), paillier_keys.public.plaintext_bits)
    public_encryptor = Encryptor(
        paillier_keys.public, InlineObfuscators(paillier_keys.public.obfuscator_source())
    )
    assert list(decryptor.decrypt(public_encryptor.encrypt([1.0, -2.0], layout))) == [1.0, -2.0]


@pytest.mark.parametrize("scheme_name", ["paillier", "ou"])
def test_default_short_exponents_give_base_to_one_short_exponent_and_decrypt(scheme_name: str) -> None:
    # The key holder with short exponents (the default) computes base^a mod N with one a: by CRT for Paillier (two
    # 2048-bit halves), directly modulo n for OU (its halves are small, one product is cheaper than two).
    if scheme_name == "paillier":
        params = PaillierParams(key_bits=1024, exponent_bits=160, allow_insecure_for_tests=True)
        keys = PaillierKeypair.generate(params)
    else:
        params = OUParams(key_bits=1026, exponent_bits=160, allow_insecure_for_tests=True)
        keys = OUKeypair.generate(params, random.Random(4))
    source = keys.secret.obfuscator_source(window_bits=6)
    assert (source.crt is not None) == (scheme_name == "paillier")
    assert source.crt_orders is None and source.exponent_bits == 160
    assert ObfuscatorSource.from_bytes(source.to_bytes()) == source
    batch = source.generator().generate(4, random.Random(9))
    draws = random.Random(9)
    assert batch.values == [gmpy2.powmod(source.base, draws.getrandbits(160), source.modulus) for _ in range(4)]
    layout = PackingLayout.scalar(FixedPointCodec(0, 1.0), keys.public.plaintext_bits)
    assert Decryptor(keys.secret).decrypt_integers(CipherVector(keys.public, batch.values, layout, bound=0)) == [0] * 4
