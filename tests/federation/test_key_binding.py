"""Application keys bound to certificates: only the certificate's holder can bind keys to its identity."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from federation.key_binding import (
    ENTERPRISE_KEY_DOMAIN,
    BindingVerifier,
    KeyBindingInvalid,
    KeyPurpose,
    StatementInvalid,
    bind_keys,
    open_statement,
    raw_public,
    sign_statement,
)
from federation.pki import CertificateAuthority, Identity, NodeTls
from federation.proto import verification_pb2

BANK, OTHER = Identity("bank", "icbc-sz"), Identity("platform", "main")


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    authority = CertificateAuthority.create(tmp_path_factory.mktemp("pki"))
    authority.issue(BANK)
    authority.issue(OTHER)
    return authority


def keys() -> dict[str, bytes]:
    return {KeyPurpose.REQUEST_SIGNING: raw_public(Ed25519PrivateKey.generate()),
            KeyPurpose.ANSWER_SEALING: raw_public(Ed25519PrivateKey.generate())}


def test_a_binding_verifies_for_its_own_identity_only(ca: CertificateAuthority) -> None:
    bank = NodeTls.load_issued(ca.directory, BANK)
    bound_keys = keys()
    binding = bind_keys(bank, bound_keys)
    verifier = BindingVerifier(ca.ca_pem, ca.crl_path)
    bound = verifier.verify(binding, expected=BANK.party)
    assert bound.identity == BANK and bound.key(KeyPurpose.REQUEST_SIGNING) == bound_keys[KeyPurpose.REQUEST_SIGNING]
    with pytest.raises(KeyBindingInvalid, match="expected"):
        verifier.verify(binding, expected=OTHER)
    with pytest.raises(KeyBindingInvalid, match="binds no"):
        bound.key(KeyPurpose.WITNESS)


def test_a_statement_naming_another_party_or_altered_is_refused(ca: CertificateAuthority) -> None:
    relay = NodeTls.load_issued(ca.directory, OTHER)
    forged = bind_keys(relay, keys())
    statement = verification_pb2.KeyStatement()
    statement.ParseFromString(forged.statement)
    statement.identity = BANK.party
    forged.statement = statement.SerializeToString()
    verifier = BindingVerifier(ca.ca_pem)
    with pytest.raises(KeyBindingInvalid):
        verifier.verify(forged)
    genuine = bind_keys(NodeTls.load_issued(ca.directory, BANK), keys())
    genuine.statement = genuine.statement[:-1] + bytes([genuine.statement[-1] ^ 1])
    with pytest.raises(KeyBindingInvalid, match="does not verify"):
        verifier.verify(genuine)


def test_a_certificate_from_another_ca_or_revoked_is_refused(ca: CertificateAuthority, tmp_path: Path) -> None:
    stranger = CertificateAuthority.create(tmp_path / "other")
    foreign = bind_keys(stranger.issue(BANK), keys())
    with pytest.raises(KeyBindingInvalid, match="not issued by the federation CA"):
        BindingVerifier(ca.ca_pem).verify(foreign)
    revoked_ca = CertificateAuthority.create(tmp_path / "revoking")
    tls = revoked_ca.issue(Identity("bank", "gone"))
    binding = bind_keys(tls, keys())
    verifier = BindingVerifier(revoked_ca.ca_pem, revoked_ca.crl_path)
    verifier.verify(binding)  # cached from here on; revocation is still checked at every call
    revoked_ca.revoke_identity(Identity("bank", "gone"))
    with pytest.raises(KeyBindingInvalid, match="revoked"):
        verifier.verify(binding)
    assert NodeTls.load_issued(ca.directory, BANK).identity == BANK


def test_a_binding_from_the_future_is_refused(ca: CertificateAuthority) -> None:
    bank = NodeTls.load_issued(ca.directory, BANK)
    now = dt.datetime.now(dt.UTC)
    binding = bind_keys(bank, keys(), now=now + dt.timedelta(hours=1))
    with pytest.raises(KeyBindingInvalid, match="future"):
        BindingVerifier(ca.ca_pem).verify(binding, now=now)


def test_signed_statements_verify_under_their_key_and_domain_only() -> None:
    key = Ed25519PrivateKey.generate()
    statement = verification_pb2.EnterpriseKeyStatement(credit_code="91330105MARQ283F4K", key_id="ab", issued_at=5)
    signed = sign_statement(key, ENTERPRISE_KEY_DOMAIN, statement)
    assert open_statement(signed, key.public_key(), ENTERPRISE_KEY_DOMAIN,
                          verification_pb2.EnterpriseKeyStatement) == statement
    with pytest.raises(StatementInvalid):
        open_statement(signed, key.public_key(), b"xyd/other/v1", verification_pb2.EnterpriseKeyStatement)
    with pytest.raises(StatementInvalid):
        open_statement(signed, Ed25519PrivateKey.generate().public_key(), ENTERPRISE_KEY_DOMAIN,
                       verification_pb2.EnterpriseKeyStatement)
