"""Identity proofs through the local enterprise-certificate provider, and the per-request signature scheme."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from consent.authorisation import InvalidSignature, SignatoryRole, WireFormatError
from consent.authorisation.signatures import key_id
from consent.credit_code import generate_credit_code
from consent.enterprise import (
    IdentityNotProven,
    KeyStatement,
    LocalCertificateProvider,
    LocalEnterpriseCA,
    ProofPurpose,
    certificate_proof,
    check_proof,
    parse_authorization,
    sign_request,
    verify_request,
)
from consent.enterprise.request_auth import CONTENT_DIGEST_HEADER

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CODE = generate_credit_code(random.Random(3))
OTHER = generate_credit_code(random.Random(4))
AUDIENCE = "platform/main"


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> LocalEnterpriseCA:
    return LocalEnterpriseCA.create(tmp_path_factory.mktemp("enterprise-ca"), now=T0 - timedelta(days=1))


def statement(key: Ed25519PrivateKey, *, purpose: ProofPurpose = ProofPurpose.SIGN_UP, code: str = CODE,
              audience: str = AUDIENCE, at: datetime = T0) -> KeyStatement:
    return KeyStatement.new(purpose=purpose, audience=audience, credit_code=code, signatory="Li Lei",
                            signatory_role=SignatoryRole.LEGAL_REPRESENTATIVE, enterprise_key=key.public_key(), now=at)


def test_a_proof_by_the_enterprises_certificate_holds(ca: LocalEnterpriseCA) -> None:
    issued = ca.issue(CODE, "Hangzhou Demo Textiles Co., Ltd.", now=T0 - timedelta(hours=1))
    key = Ed25519PrivateKey.generate()
    proof = certificate_proof(statement(key), certificate_pem=issued.certificate_pem,
                              certificate_key_pem=issued.key_pem, enterprise_key=key)
    verified = check_proof(proof, _provider(ca), purpose=ProofPurpose.SIGN_UP, audience=AUDIENCE,
                           now=T0 + timedelta(seconds=20))
    assert verified.assertion.credit_code == CODE
    assert verified.assertion.name == "Hangzhou Demo Textiles Co., Ltd."
    assert verified.statement.public_key.public_bytes_raw() == key.public_key().public_bytes_raw()
    # The proof carries the public key only.
    assert key.private_bytes_raw() not in proof.statement + proof.credential + proof.signature


def _provider(ca: LocalEnterpriseCA) -> LocalCertificateProvider:
    return LocalCertificateProvider((ca.folder / "ca.pem").read_bytes())


def test_every_broken_proof_is_refused(ca: LocalEnterpriseCA, tmp_path: Path) -> None:
    issued = ca.issue(CODE, "Demo Co.", now=T0 - timedelta(hours=1))
    other = ca.issue(OTHER, "Other Co.", now=T0 - timedelta(hours=1))
    stranger = LocalEnterpriseCA.create(tmp_path / "stranger", now=T0 - timedelta(days=1)).issue(
        CODE, "Demo Co.", now=T0 - timedelta(hours=1))
    provider = _provider(ca)
    key = Ed25519PrivateKey.generate()

    def proof(st_: KeyStatement, cert=issued, signing_key: Ed25519PrivateKey = key):
        return certificate_proof(st_, certificate_pem=cert.certificate_pem, certificate_key_pem=cert.key_pem,
                                 enterprise_key=signing_key)

    def refused(p, purpose=ProofPurpose.SIGN_UP, now=T0) -> None:
        with pytest.raises(IdentityNotProven):
            check_proof(p, provider, purpose=purpose, audience=AUDIENCE, now=now)

    good = proof(statement(key))
    check_proof(good, provider, purpose=ProofPurpose.SIGN_UP, audience=AUDIENCE, now=T0)
    refused(good, purpose=ProofPurpose.RECOVER)                                  # another purpose
    refused(proof(statement(key, audience="platform/elsewhere")))                 # another platform
    refused(good, now=T0 + timedelta(minutes=6))                                 # stale
    refused(good, now=T0 - timedelta(minutes=1))                                 # issued in the future
    refused(proof(statement(key), cert=other))                                   # another enterprise's certificate
    refused(proof(statement(key), cert=stranger))                                # a certificate of another CA
    refused(dataclasses.replace(good, statement=good.statement.replace(b"Li Lei", b"Li Mei")))  # tampered
    refused(dataclasses.replace(good, key_signature=proof(statement(key)).key_signature))  # another statement's
    refused(dataclasses.replace(good, provider="e-licence"))                    # another provider
    with pytest.raises(ValueError):  # a key that is not the statement's cannot sign for it
        proof(statement(key), signing_key=Ed25519PrivateKey.generate())
    expired = ca.issue(CODE, "Demo Co.", days=1, now=T0 - timedelta(days=3))
    refused(proof(statement(key), cert=expired))                                 # certificate expired


def test_a_signed_request_verifies_once_changed_in_no_part() -> None:
    key = Ed25519PrivateKey.generate()
    headers = sign_request(key, credit_code=CODE, method="POST", path="/v1/enterprise/consents/x/pause",
                           query="a=1", body=b'{"x":1}', now=T0)
    credentials = parse_authorization(headers["Authorization"])
    assert credentials.key_id == key_id(key.public_key()) and credentials.timestamp == int(T0.timestamp())
    digest = headers[CONTENT_DIGEST_HEADER]
    verify_request(credentials, key.public_key(), method="POST", path="/v1/enterprise/consents/x/pause",
                   query="a=1", content_sha256=digest)
    for change in ({"method": "PUT"}, {"path": "/v1/enterprise/consents/y/pause"}, {"query": "a=2"},
                   {"content_sha256": "0" * 64}):
        arguments = {"method": "POST", "path": "/v1/enterprise/consents/x/pause", "query": "a=1",
                     "content_sha256": digest, **change}
        with pytest.raises(InvalidSignature):
            verify_request(credentials, key.public_key(), **arguments)
    for field in ("timestamp", "nonce", "credit_code"):
        value = {"timestamp": credentials.timestamp + 1, "nonce": "f" * 32, "credit_code": OTHER}[field]
        with pytest.raises(InvalidSignature):
            verify_request(dataclasses.replace(credentials, **{field: value}), key.public_key(), method="POST",
                           path="/v1/enterprise/consents/x/pause", query="a=1", content_sha256=digest)
    with pytest.raises(InvalidSignature):  # another key
        verify_request(credentials, Ed25519PrivateKey.generate().public_key(), method="POST",
                       path="/v1/enterprise/consents/x/pause", query="a=1", content_sha256=digest)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=300))
def test_the_authorization_parser_refuses_anything_but_its_own_form(text: str) -> None:
    try:
        parse_authorization(text)
    except WireFormatError:
        return
    pytest.fail("a random header parsed")  # pragma: no cover


def test_malformed_headers_are_refused() -> None:
    key = Ed25519PrivateKey.generate()
    good = sign_request(key, credit_code=CODE, method="GET", path="/v1/enterprise/account", now=T0)["Authorization"]
    parse_authorization(good)
    for bad in (good.replace("XYD-Enterprise", "Bearer"), good + ",nonce=" + "a" * 32,
                good.replace("credit_code=" + CODE, "credit_code=" + CODE[:-1] + ("0" if CODE[-1] != "0" else "1")),
                good.replace("timestamp=", "timestamp=-"), good.split(",signature=")[0],
                good.replace("key_id=", "key_id=zz")):
        with pytest.raises(WireFormatError):
            parse_authorization(bad)
