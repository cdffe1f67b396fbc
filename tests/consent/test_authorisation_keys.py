"""The enterprise key registry: binding, rotation and revocation dates decide which signatures count."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent.authorisation import (
    EnterpriseKeyNotValid,
    EnterpriseKeyRegistry,
    UnknownEnterpriseKey,
    key_id,
)
from consent.authorisation.key_registry import KeyBindingError
from consent.credit_code import InvalidCreditCode
from tests.consent.test_authorisation_world import CREDIT_CODE, OTHER_CODE, T0, memory_engine


@pytest.fixture
def registry() -> EnterpriseKeyRegistry:
    engine = memory_engine()
    registry = EnterpriseKeyRegistry(engine)
    registry.create_schema()
    return registry


def test_bound_key_is_valid_from_its_binding(registry: EnterpriseKeyRegistry) -> None:
    key = Ed25519PrivateKey.generate().public_key()
    kid = registry.bind(CREDIT_CODE, key, valid_from=T0)
    assert kid == key_id(key)
    assert registry.key_for(CREDIT_CODE, kid, at=T0) == key
    with pytest.raises(EnterpriseKeyNotValid, match="not yet bound"):
        registry.key_for(CREDIT_CODE, kid, at=T0 - timedelta(seconds=1))


def test_key_is_bound_to_one_credit_code(registry: EnterpriseKeyRegistry) -> None:
    key = Ed25519PrivateKey.generate().public_key()
    kid = registry.bind(CREDIT_CODE, key, valid_from=T0)
    with pytest.raises(UnknownEnterpriseKey):
        registry.key_for(OTHER_CODE, kid, at=T0)
    with pytest.raises(KeyBindingError):
        registry.bind(CREDIT_CODE, key, valid_from=T0)
    with pytest.raises(InvalidCreditCode):
        registry.bind("not-a-code", key, valid_from=T0)


def test_rotation_closes_the_old_key_for_later_signatures(registry: EnterpriseKeyRegistry) -> None:
    old = Ed25519PrivateKey.generate().public_key()
    new = Ed25519PrivateKey.generate().public_key()
    old_id = registry.bind(CREDIT_CODE, old, valid_from=T0)
    new_id = registry.rotate(CREDIT_CODE, new, at=T0 + timedelta(days=10))
    assert registry.key_for(CREDIT_CODE, old_id, at=T0 + timedelta(days=9)) == old
    with pytest.raises(EnterpriseKeyNotValid, match="rotated out"):
        registry.key_for(CREDIT_CODE, old_id, at=T0 + timedelta(days=10))
    assert registry.key_for(CREDIT_CODE, new_id, at=T0 + timedelta(days=10)) == new
    assert [k.key_id for k in registry.keys(CREDIT_CODE)] == [old_id, new_id]


def test_revocation_can_be_backdated(registry: EnterpriseKeyRegistry) -> None:
    key = Ed25519PrivateKey.generate().public_key()
    kid = registry.bind(CREDIT_CODE, key, valid_from=T0)
    registry.revoke(CREDIT_CODE, kid, at=T0 + timedelta(days=2))
    assert registry.key_for(CREDIT_CODE, kid, at=T0 + timedelta(days=1)) == key
    with pytest.raises(EnterpriseKeyNotValid, match="revoked"):
        registry.key_for(CREDIT_CODE, kid, at=T0 + timedelta(days=3))
    # Revoking again later does not move the date forward.
    registry.revoke(CREDIT_CODE, kid, at=T0 + timedelta(days=4))
    with pytest.raises(EnterpriseKeyNotValid):
        registry.key_for(CREDIT_CODE, kid, at=T0 + timedelta(days=3))
    with pytest.raises(UnknownEnterpriseKey):
        registry.revoke(CREDIT_CODE, "00" * 8, at=T0)
