"""Keys and data shared by the WOE tests."""

from __future__ import annotations

import numpy as np
import pytest

from models.he import PaillierKeypair, PaillierParams


@pytest.fixture(scope="session")
def paillier_1024() -> PaillierKeypair:
    return PaillierKeypair.generate(PaillierParams(key_bits=1024, allow_insecure_for_tests=True))


@pytest.fixture
def credit_like() -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Labels, two platform variables and three source variables (one with missing values)."""
    rng = np.random.default_rng(5)
    n = 800
    latent = rng.normal(size=n)
    y = (latent + rng.normal(size=n) > 1.0).astype(float)
    platform = {"payment_delay": latent + rng.normal(0, 0.8, n), "age": rng.integers(20, 70, n).astype(float)}
    tax = {"tax_paid": -latent + rng.normal(0, 1.0, n), "filings": rng.poisson(3, n).astype(float),
           "arrears": np.where(rng.random(n) < 0.1, np.nan, latent + rng.normal(0, 2.0, n))}
    return y, platform, tax
