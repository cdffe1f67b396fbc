"""Shared fixtures: small (1024-bit, test-only) keys and inline obfuscator supplies, built once per session."""

from __future__ import annotations

import random

import pytest

from models.he import (
    Decryptor,
    Encryptor,
    InlineObfuscators,
    OUKeypair,
    OUParams,
    PaillierKeypair,
    PaillierParams,
)

TEST_KEY_BITS = 1024


@pytest.fixture(scope="session")
def paillier_keys() -> PaillierKeypair:
    return PaillierKeypair.generate(PaillierParams(key_bits=TEST_KEY_BITS, allow_insecure_for_tests=True))


@pytest.fixture(scope="session")
def ou_keys() -> OUKeypair:
    return OUKeypair.generate(
        OUParams(key_bits=TEST_KEY_BITS, allow_insecure_for_tests=True), rng=random.Random(7)
    )


@pytest.fixture(scope="session", params=["paillier", "ou"])
def scheme(request: pytest.FixtureRequest, paillier_keys: PaillierKeypair, ou_keys: OUKeypair):
    """(keys, encryptor, decryptor) for each scheme: one test suite runs against both."""
    keys = paillier_keys if request.param == "paillier" else ou_keys
    supply = InlineObfuscators(keys.secret.obfuscator_source(window_bits=6))
    return keys, Encryptor(keys.public, supply), Decryptor(keys.secret)
