"""Keys and parameters shared by the SecureBoost tests."""

from __future__ import annotations

import pytest

from models.he import OUKeypair, OUParams, PaillierKeypair, PaillierParams
from models.secureboost import SecureBoostParams


@pytest.fixture(scope="session")
def paillier_1024() -> PaillierKeypair:
    return PaillierKeypair.generate(PaillierParams(key_bits=1024, allow_insecure_for_tests=True))


@pytest.fixture(scope="session")
def ou_1536() -> OUKeypair:
    return OUKeypair.generate(OUParams(key_bits=1536, allow_insecure_for_tests=True))


@pytest.fixture
def small_params() -> SecureBoostParams:
    return SecureBoostParams(n_trees=3, max_depth=3, bins=16, learning_rate=0.3, encryption=False)
