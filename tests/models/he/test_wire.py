"""Protobuf forms of keys and cipher vectors: round trips, and refusal of what does not belong."""

from __future__ import annotations

import numpy as np
import pytest

from federation.proto import he_pb2
from models.he import (
    CiphertextFormatError,
    FixedPointCodec,
    InsecureParametersError,
    KeyMismatchError,
    PackingLayout,
    PaillierKeypair,
    PaillierParams,
    cipher_vector_from_message,
    cipher_vector_to_message,
    public_key_from_message,
    public_key_to_message,
)

GH = PackingLayout.plan(FixedPointCodec(frac_bits=40, max_abs=1.0), slots=2, max_additions=100)


def test_public_key_round_trip_enforces_the_size_floor(scheme) -> None:
    keys, _, _ = scheme
    data = public_key_to_message(keys.public).SerializeToString()
    message = he_pb2.PublicKey.FromString(data)
    assert public_key_from_message(message, allow_insecure_for_tests=True) == keys.public
    with pytest.raises(InsecureParametersError):
        public_key_from_message(message)


def test_cipher_vector_round_trip_without_and_with_bound(scheme) -> None:
    keys, encryptor, decryptor = scheme
    values = np.random.default_rng(9).uniform(-1, 1, (7, 2))
    vector = encryptor.encrypt(values, GH).bucket_sum(np.array([0, 1, 1, 2, 2, 2, -1]), 3).pack()
    wire = he_pb2.CipherVector.FromString(cipher_vector_to_message(vector).SerializeToString())
    assert wire.bound == b""  # bucket sizes stay private unless the sender opts in
    restored = cipher_vector_from_message(wire, keys.public)
    assert (restored.rows, restored.rows_per_ciphertext) == (3, vector.rows_per_ciphertext)
    assert np.array_equal(decryptor.decrypt(restored), decryptor.decrypt(vector))
    with_bound = cipher_vector_from_message(cipher_vector_to_message(vector, include_bound=True), keys.public)
    assert with_bound.bound == vector.bound


def test_vectors_for_another_key_or_of_the_wrong_width_are_refused(scheme, paillier_keys, ou_keys) -> None:
    keys, encryptor, _ = scheme
    other = ou_keys if keys is paillier_keys else paillier_keys
    message = cipher_vector_to_message(encryptor.encrypt(np.zeros((2, 2)), GH))
    with pytest.raises(KeyMismatchError):
        cipher_vector_from_message(message, other.public)
    message.ciphertext_bytes += 1
    with pytest.raises(CiphertextFormatError):
        cipher_vector_from_message(message, keys.public)


def test_the_key_owners_exponent_length_travels_with_the_key_and_is_checked() -> None:
    params = PaillierParams(key_bits=1024, exponent_bits=200, allow_insecure_for_tests=True)
    keys = PaillierKeypair.generate(params)
    message = public_key_to_message(keys.public)
    received = public_key_from_message(message, allow_insecure_for_tests=True)
    assert received == keys.public and received.params.exponent_bits == 200
    message.paillier.exponent_bits = 100  # below 2 x 80: a receiver refuses to re-randomise that weakly
    with pytest.raises(InsecureParametersError):
        public_key_from_message(message, allow_insecure_for_tests=True)
