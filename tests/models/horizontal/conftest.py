from __future__ import annotations

import pytest

from models.horizontal import BankKeyring


@pytest.fixture(scope="session")
def keyring() -> BankKeyring:
    """One shared bank keyring (CKKS keygen is cheap, but every test needs the same one per federation)."""
    return BankKeyring.generate()
