"""Hostile HE messages (issue 20 item 4): ciphertexts out of range (0, n^2 and above for Paillier, n and above
for OU), wrong lengths and widths, random layouts and keys. Every parser refuses with an `HEError` (or the
SecureBoost adapter's `CiphertextFormatError`) or another catalogue error, never another exception, and nothing out of range is accepted."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from errors import XydError
from federation.proto import he_pb2
from models.he import (
    CiphertextFormatError,
    FixedPointCodec,
    PackingLayout,
    cipher_vector_from_message,
    cipher_vector_to_message,
    public_key_from_message,
)
from models.secureboost.he_cipher import HeEvaluator

EXAMPLES = int(os.environ.get("XYD_FUZZ_EXAMPLES", "25"))
_FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
GH = PackingLayout.plan(FixedPointCodec(frac_bits=40, max_abs=1.0), slots=2, max_additions=100)


@pytest.fixture(scope="module")
def message(scheme) -> tuple[object, he_pb2.CipherVector, HeEvaluator]:
    keys, encryptor, _ = scheme
    import numpy as np

    return keys.public, cipher_vector_to_message(encryptor.encrypt(np.zeros((3, 2)), GH)), HeEvaluator(keys.public)


@_FUZZ
@given(data=st.data())
def test_ciphertexts_outside_the_group_are_refused(message, data) -> None:
    key, valid, evaluator = message
    width, modulus = key.ciphertext_bytes, int(key.modulus)
    bad = data.draw(st.one_of(st.just(0), st.integers(modulus, 2 ** (8 * width) - 1)))
    position = data.draw(st.integers(0, valid.rows - 1))
    hostile = he_pb2.CipherVector()
    hostile.CopyFrom(valid)
    blob = bytearray(valid.ciphertexts)
    blob[position * width:(position + 1) * width] = bad.to_bytes(width, "big")
    hostile.ciphertexts = bytes(blob)
    with pytest.raises(CiphertextFormatError):
        cipher_vector_from_message(hostile, key)
    with pytest.raises(CiphertextFormatError):
        evaluator.load(bytes(blob), valid.rows, None)


@_FUZZ
@given(data=st.data())
def test_random_vector_messages_are_refused_with_he_errors(message, data) -> None:
    key, valid, _ = message
    hostile = he_pb2.CipherVector()
    hostile.CopyFrom(valid)
    field = data.draw(st.sampled_from(["ciphertexts", "rows", "rows_per_ciphertext", "ciphertext_bytes", "layout",
                                       "bound", "key_fingerprint"]))
    if field in ("ciphertexts", "bound", "key_fingerprint"):
        setattr(hostile, field, data.draw(st.binary(max_size=600)) if field != "key_fingerprint"
                else data.draw(st.text(max_size=20)))
    elif field == "layout":
        hostile.layout.slots = data.draw(st.integers(0, 2**32 - 1))
        hostile.layout.slot_bits = data.draw(st.integers(0, 2**32 - 1))
        hostile.layout.frac_bits = data.draw(st.integers(0, 2**32 - 1))
        hostile.layout.max_abs = data.draw(st.floats(allow_nan=True, allow_infinity=True))
    else:
        setattr(hostile, field, data.draw(st.integers(0, 2**32 - 1)))
    try:
        cipher_vector_from_message(he_pb2.CipherVector.FromString(hostile.SerializeToString()), key)
    except XydError:  # HEError, KeyMismatchError, PackingOverflowError: the catalogue
        pass


@_FUZZ
@given(which=st.sampled_from(["paillier", "ou"]), n=st.binary(max_size=80), g=st.binary(max_size=80),
       h=st.binary(max_size=80), bits=st.integers(0, 2**32 - 1), exponent=st.integers(0, 2**32 - 1))
def test_random_public_keys_are_refused_with_catalogue_errors(which: str, n: bytes, g: bytes, h: bytes, bits: int,
                                                              exponent: int) -> None:
    key = he_pb2.PublicKey()
    if which == "paillier":
        key.paillier.n, key.paillier.exponent_bits = n, exponent
    else:
        key.ou.n, key.ou.g, key.ou.h, key.ou.prime_bits, key.ou.exponent_bits = n, g, h, bits, exponent
    for insecure in (False, True):
        try:
            public_key_from_message(key, allow_insecure_for_tests=insecure)
        except XydError:
            pass
    try:
        HeEvaluator.from_public_bytes(n + g + h, allow_insecure_for_tests=True)
    except XydError:
        pass
