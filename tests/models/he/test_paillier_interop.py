"""The fast path and python-paillier (phe) decrypt each other's ciphertexts under the same keys."""

from __future__ import annotations

import numpy as np
import phe
import pytest

from models.he import (
    Decryptor,
    Encryptor,
    FixedPointCodec,
    InlineObfuscators,
    InsecureParametersError,
    KeyMismatchError,
    PackingLayout,
    PaillierKeypair,
    PaillierParams,
    PaillierPublicKey,
    PaillierSecretKey,
    from_phe_numbers,
    to_phe_numbers,
)

TEST_PARAMS = PaillierParams(key_bits=1024, allow_insecure_for_tests=True)


@pytest.fixture(scope="module")
def phe_keys() -> tuple[phe.PaillierPublicKey, phe.PaillierPrivateKey]:
    return phe.generate_paillier_keypair(n_length=1024)


@pytest.fixture(scope="module")
def adopted(phe_keys: tuple[phe.PaillierPublicKey, phe.PaillierPrivateKey]) -> PaillierKeypair:
    return PaillierKeypair.from_phe(*phe_keys, params=TEST_PARAMS)


def test_keys_load_from_and_save_to_phe(phe_keys, adopted: PaillierKeypair) -> None:
    public, private = phe_keys
    assert adopted.public.to_phe() == public
    assert adopted.secret.to_phe() == private
    assert PaillierSecretKey.from_phe(private, TEST_PARAMS).public == adopted.public
    assert PaillierPublicKey(int(adopted.public.n), TEST_PARAMS).fingerprint == adopted.public.fingerprint


def test_loading_a_small_phe_key_without_the_test_flag_is_refused(phe_keys) -> None:
    with pytest.raises(InsecureParametersError):
        PaillierPublicKey.from_phe(phe_keys[0])


def test_fast_path_decrypts_what_phe_encrypts(phe_keys, adopted: PaillierKeypair) -> None:
    public, _ = phe_keys
    integers = [0, 1, -1, 123456789, -(2**60), 2**200]
    reals = [0.5, -3.25, 1e-6, -123.456, 7.0]
    decryptor = Decryptor(adopted.secret)
    ints_vector = from_phe_numbers(adopted.public, [public.encrypt(v) for v in integers], max_abs=2.0**201)
    assert decryptor.decrypt_integers(ints_vector) == integers
    reals_vector = from_phe_numbers(adopted.public, [public.encrypt(v) for v in reals], max_abs=1000.0)
    assert np.allclose(decryptor.decrypt(reals_vector), reals, rtol=1e-12, atol=1e-12)


def test_phe_decrypts_what_the_fast_path_encrypts(phe_keys, adopted: PaillierKeypair) -> None:
    _, private = phe_keys
    encryptor = Encryptor(adopted.public, InlineObfuscators(adopted.secret.obfuscator_source(window_bits=6)))
    values = np.array([0.0, 1.5, -2.75, 1e-9, -0.3333, 100.0])
    layout = PackingLayout.scalar(FixedPointCodec(frac_bits=48, max_abs=100.0), adopted.public.plaintext_bits)
    numbers = to_phe_numbers(encryptor.encrypt(values, layout))
    assert np.allclose([private.decrypt(x) for x in numbers], values, rtol=0, atol=2.0**-48)
    integers = np.array([0, 5, -7, 2**40])
    int_layout = PackingLayout.scalar(
        FixedPointCodec(frac_bits=0, max_abs=2.0**41), adopted.public.plaintext_bits
    )
    assert [
        private.decrypt(x) for x in to_phe_numbers(encryptor.encrypt(integers, int_layout))
    ] == integers.tolist()


def test_phe_arithmetic_on_fast_path_ciphertexts_matches(phe_keys, adopted: PaillierKeypair) -> None:
    _, private = phe_keys
    encryptor = Encryptor(adopted.public, InlineObfuscators(adopted.public.obfuscator_source(window_bits=6)))
    layout = PackingLayout.scalar(FixedPointCodec(frac_bits=32, max_abs=10.0), adopted.public.plaintext_bits)
    a, b = to_phe_numbers(encryptor.encrypt(np.array([1.25, -4.0]), layout))
    assert private.decrypt(a + b) == pytest.approx(-2.75)
    assert private.decrypt(a * 3) == pytest.approx(3.75)


def test_numbers_under_another_key_are_refused(adopted: PaillierKeypair) -> None:
    other_public, _ = phe.generate_paillier_keypair(n_length=1024)
    with pytest.raises(KeyMismatchError):
        from_phe_numbers(adopted.public, [other_public.encrypt(1)], max_abs=2.0)
