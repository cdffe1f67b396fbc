"""Enterprise accounts on SQLite and PostgreSQL: sign-up, replayed proofs, rotation and recovery under the key
registry's rules, audit leaves without credit codes, and the authentication of signed requests."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent.audit import AuditEvent, AuditLog, EventKind, open_engine
from consent.authorisation import EnterpriseKeyNotValid, EnterpriseKeyRegistry, SignatoryRole, WireFormatError
from consent.authorisation.signatures import key_id
from consent.credit_code import generate_credit_code
from consent.enterprise import (
    IdentityNotProven,
    KeyStatement,
    LocalCertificateProvider,
    LocalEnterpriseCA,
    ProofPurpose,
    certificate_proof,
    parse_authorization,
    prove_possession,
    sign_request,
)
from consent.enterprise.local_certificates import IssuedCertificate
from consent.enterprise.request_auth import CONTENT_DIGEST_HEADER
from platform_node.enterprises import (
    EnterpriseAccounts,
    EnterpriseAlreadySignedUp,
    EnterpriseUnauthenticated,
    UnknownEnterpriseAccount,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CODE = generate_credit_code(random.Random(21))
REF_KEY = bytes(range(32))


@dataclass
class World:
    accounts: EnterpriseAccounts
    log: AuditLog
    certificate: IssuedCertificate

    def proof(self, key: Ed25519PrivateKey, purpose: ProofPurpose = ProofPurpose.SIGN_UP, at: datetime = T0):
        statement = KeyStatement.new(purpose=purpose, audience="platform/main", credit_code=CODE, signatory="Li Lei",
                                     signatory_role=SignatoryRole.LEGAL_REPRESENTATIVE,
                                     enterprise_key=key.public_key(), now=at)
        return certificate_proof(statement, certificate_pem=self.certificate.certificate_pem,
                                 certificate_key_pem=self.certificate.key_pem, enterprise_key=key)

    def signed(self, key: Ed25519PrivateKey, at: datetime, *, path: str = "/v1/enterprise/account"):
        headers = sign_request(key, credit_code=CODE, method="GET", path=path, now=at)
        return parse_authorization(headers["Authorization"]), headers[CONTENT_DIGEST_HEADER]

    def authenticate(self, key: Ed25519PrivateKey, at: datetime, *, now: datetime | None = None):
        credentials, digest = self.signed(key, at)
        return self.accounts.authenticate(credentials, method="GET", path="/v1/enterprise/account", query="",
                                          content_sha256=digest, now=now or at)


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else \
        f"sqlite:///{tmp_path / 'platform.db'}"
    engine = open_engine(url)
    log = AuditLog(engine)
    log.create_schema()
    keys = EnterpriseKeyRegistry(engine)
    keys.create_schema()
    ca = LocalEnterpriseCA.create(tmp_path / "ca", now=T0 - timedelta(days=1))
    accounts = EnterpriseAccounts(engine, keys=keys, audit=log, subject_ref_key=REF_KEY,
                                  provider=LocalCertificateProvider((tmp_path / "ca" / "ca.pem").read_bytes()),
                                  audience="platform/main")
    accounts.create_schema()
    yield World(accounts, log, ca.issue(CODE, "Demo Textiles Co.", now=T0 - timedelta(hours=1)))
    engine.dispose()


def test_sign_up_binds_the_public_key_once_and_logs_it_without_the_credit_code(world: World) -> None:
    key = Ed25519PrivateKey.generate()
    proof = world.proof(key)
    change = world.accounts.sign_up(proof, now=T0 + timedelta(seconds=5))
    assert change.key_id == key_id(key.public_key()) and change.account.name == "Demo Textiles Co."
    assert world.accounts.keys.key_for(CODE, change.key_id, at=T0 + timedelta(seconds=5)) is not None
    (receipt,) = change.receipts
    event = AuditEvent.from_leaf(world.log.leaf(receipt.index).leaf)
    assert event.kind is EventKind.ENTERPRISE_KEY_CHANGED and event.status_to == "BOUND"
    assert event.actor == "enterprise/subject" and CODE.encode() not in receipt.leaf
    with pytest.raises(IdentityNotProven):  # the same proof again: replay
        world.accounts.sign_up(proof, now=T0 + timedelta(seconds=6))
    with pytest.raises(EnterpriseAlreadySignedUp):  # a fresh proof, but the account exists
        world.accounts.sign_up(world.proof(Ed25519PrivateKey.generate(), at=T0 + timedelta(seconds=10)),
                               now=T0 + timedelta(seconds=10))
    assert len(world.accounts.keys.keys(CODE)) == 1


def test_rotation_closes_the_old_key_and_keeps_what_it_signed_before(world: World) -> None:
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    world.accounts.sign_up(world.proof(old), now=T0)
    me = world.authenticate(old, T0 + timedelta(minutes=1))
    at = T0 + timedelta(minutes=2)
    statement = KeyStatement.new(purpose=ProofPurpose.ROTATE, audience="platform/main", credit_code=CODE,
                                 signatory="Li Lei", signatory_role=SignatoryRole.LEGAL_REPRESENTATIVE,
                                 enterprise_key=new.public_key(), now=at)
    with pytest.raises(IdentityNotProven):  # the new key must sign its own statement
        world.accounts.rotate(me, statement.to_bytes(), prove_possession(
            KeyStatement.new(purpose=ProofPurpose.ROTATE, audience="platform/main", credit_code=CODE,
                             signatory="Li Lei", signatory_role=SignatoryRole.LEGAL_REPRESENTATIVE,
                             enterprise_key=old.public_key(), now=at), old), now=at)
    change = world.accounts.rotate(me, statement.to_bytes(), prove_possession(statement, new), now=at)
    assert [leaf.status_to for leaf in map(lambda r: AuditEvent.from_leaf(r.leaf), change.receipts)] == [
        "ROTATED_OUT", "BOUND"]
    keys = world.accounts.keys
    keys.key_for(CODE, key_id(old.public_key()), at=at - timedelta(seconds=1))  # valid before
    with pytest.raises(EnterpriseKeyNotValid):
        keys.key_for(CODE, key_id(old.public_key()), at=at)
    with pytest.raises(EnterpriseUnauthenticated):  # the rotated-out key signs no more requests
        world.authenticate(old, at + timedelta(seconds=1))
    assert world.authenticate(new, at + timedelta(seconds=1)).key_id == key_id(new.public_key())


def test_recovery_revokes_earlier_keys_from_the_stated_time(world: World) -> None:
    lost, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    with pytest.raises(UnknownEnterpriseAccount):
        world.accounts.recover(world.proof(new, ProofPurpose.RECOVER), revoked_from=T0, now=T0)
    world.accounts.sign_up(world.proof(lost), now=T0)
    lost_since, now = T0 + timedelta(hours=1), T0 + timedelta(hours=3)
    with pytest.raises(IdentityNotProven):  # a sign-up proof is no recovery proof
        world.accounts.recover(world.proof(new, at=now), revoked_from=lost_since, now=now)
    change = world.accounts.recover(world.proof(new, ProofPurpose.RECOVER, at=now), revoked_from=lost_since, now=now)
    assert change.revoked == (key_id(lost.public_key()),)
    keys = world.accounts.keys
    keys.key_for(CODE, key_id(lost.public_key()), at=lost_since - timedelta(seconds=1))  # before: still its own
    with pytest.raises(EnterpriseKeyNotValid):  # back-dated: what was signed since the loss does not count
        keys.key_for(CODE, key_id(lost.public_key()), at=lost_since + timedelta(minutes=1))
    assert world.authenticate(new, now + timedelta(seconds=1)).account.credit_code == CODE


def test_signed_requests_are_accepted_within_the_window_and_once(world: World) -> None:
    key = Ed25519PrivateKey.generate()
    world.accounts.sign_up(world.proof(key), now=T0)
    at = T0 + timedelta(minutes=5)
    credentials, digest = world.signed(key, at)
    accept = dict(method="GET", path="/v1/enterprise/account", query="", content_sha256=digest, now=at)
    world.accounts.authenticate(credentials, **accept)
    with pytest.raises(EnterpriseUnauthenticated) as replay:
        world.accounts.authenticate(credentials, **accept)
    assert replay.value.code == "REPLAYED_REQUEST"
    with pytest.raises(EnterpriseUnauthenticated) as stale:
        world.authenticate(key, at, now=at + timedelta(seconds=61))
    assert stale.value.code == "STALE_REQUEST"
    with pytest.raises(EnterpriseUnauthenticated) as other_path:
        world.accounts.authenticate(world.signed(key, at)[0], **{**accept, "path": "/v1/enterprise/consents"})
    assert other_path.value.code == "UNAUTHENTICATED"
    with pytest.raises(EnterpriseUnauthenticated):  # a key nobody bound
        world.authenticate(Ed25519PrivateKey.generate(), at)
    with pytest.raises(WireFormatError):
        parse_authorization("XYD-Enterprise nonsense")
