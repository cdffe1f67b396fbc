"""Who an enterprise is, proven through an identity provider, and the key it asks the platform to bind.

An identity proof is a statement the enterprise's identity credential signs (a CA-issued enterprise
certificate, a national electronic business licence, ...): "for this platform, at this time, enterprise
<credit code>, acting through <signatory>, asks to bind this Ed25519 key". The key to be bound signs the same
statement, proving that whoever asks holds it. The platform checks the statement (purpose, audience,
freshness, key possession) here, the credential through the configured `IdentityProvider`, and refuses a
statement it has seen before (replay); see docs/protocols/consent.md, "Enterprise accounts".

Nothing here stores or transmits the enterprise's private key: the proof carries public keys and signatures.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from consent.authorisation.codec import (
    b64decode,
    b64encode,
    canonical_json,
    format_time,
    parse_canonical,
    parse_time,
    require,
    utc_seconds,
)
from consent.authorisation.errors import InvalidSignature, WireFormatError
from consent.authorisation.signatures import Domain, public_bytes, sign, verify
from consent.authorisation.terms import IdentityCheck, SignatoryRole
from consent.credit_code import InvalidCreditCode, validate_credit_code
from errors import Refused

NONCE = re.compile(r"[0-9a-f]{32}")
_AUDIENCE = re.compile(r"[a-z][a-z0-9]*/[a-z0-9][a-z0-9._-]*")
_PROVIDER = re.compile(r"[a-z][a-z0-9-]{0,62}")
PROOF_WINDOW = timedelta(minutes=5)
CLOCK_SKEW = timedelta(seconds=30)
MAX_NAME = 200


class IdentityNotProven(Refused):
    """An identity proof does not hold: the credential, its signature, the statement or the key possession
    fails, or the proof is stale, meant for another platform or purpose, or seen before. The detail is for
    the platform's log; the caller reads only the public text."""

    code = "IDENTITY_NOT_PROVEN"
    default_public = "the identity proof was not accepted"
    detail_is_public = False


class ProofPurpose(StrEnum):
    """What an identity proof is for: the first binding, or a re-binding after a lost key. A key rotation
    needs no identity proof (the current key authorises it) but its new key proves possession the same way."""

    SIGN_UP = "SIGN_UP"
    RECOVER = "RECOVER"
    ROTATE = "ROTATE"


@dataclass(frozen=True)
class KeyStatement:
    """What the enterprise (and, for sign-up and recovery, its identity credential) signs."""

    purpose: ProofPurpose
    audience: str
    credit_code: str
    signatory: str
    signatory_role: SignatoryRole
    enterprise_key: bytes
    issued_at: datetime
    nonce: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "purpose", ProofPurpose(self.purpose))
        object.__setattr__(self, "signatory_role", SignatoryRole(self.signatory_role))
        object.__setattr__(self, "issued_at", utc_seconds(self.issued_at))
        if not _AUDIENCE.fullmatch(self.audience):
            raise WireFormatError("audience must be a kind/name identity")
        try:
            validate_credit_code(self.credit_code)
        except InvalidCreditCode as exc:
            raise WireFormatError(f"credit code: {exc.public_reason}") from None
        if not self.signatory.strip() or len(self.signatory) > MAX_NAME:
            raise WireFormatError(f"signatory must be a name of 1 to {MAX_NAME} characters")
        if len(self.enterprise_key) != 32:
            raise WireFormatError("enterprise key must be 32 raw Ed25519 bytes")
        if not NONCE.fullmatch(self.nonce):
            raise WireFormatError("nonce must be 32 lowercase hex characters")

    @classmethod
    def new(cls, *, purpose: ProofPurpose, audience: str, credit_code: str, signatory: str,
            signatory_role: SignatoryRole, enterprise_key: Ed25519PublicKey, now: datetime,
            rng: Callable[[int], bytes] = os.urandom) -> KeyStatement:
        """A fresh statement with a random nonce, issued now."""
        return cls(purpose, audience, credit_code, signatory, signatory_role, public_bytes(enterprise_key), now,
                   rng(16).hex())

    def to_bytes(self) -> bytes:
        return canonical_json({
            "purpose": self.purpose.value, "audience": self.audience, "credit_code": self.credit_code,
            "signatory": {"name": self.signatory, "role": self.signatory_role.value},
            "enterprise_key": b64encode(self.enterprise_key), "issued_at": format_time(self.issued_at),
            "nonce": self.nonce,
        })

    @classmethod
    def from_bytes(cls, data: bytes) -> KeyStatement:
        """Parse canonical statement bytes; anything else is a `WireFormatError`."""
        obj = parse_canonical(data)
        if set(obj) != {"purpose", "audience", "credit_code", "signatory", "enterprise_key", "issued_at", "nonce"}:
            raise WireFormatError("unexpected statement fields")
        signatory = require(obj, "signatory", dict)
        if set(signatory) != {"name", "role"}:
            raise WireFormatError("unexpected signatory fields")
        try:
            return cls(ProofPurpose(require(obj, "purpose", str)), require(obj, "audience", str),
                       require(obj, "credit_code", str), require(signatory, "name", str),
                       SignatoryRole(require(signatory, "role", str)), b64decode(require(obj, "enterprise_key", str)),
                       parse_time(require(obj, "issued_at", str)), require(obj, "nonce", str))
        except ValueError as exc:
            if isinstance(exc, WireFormatError):
                raise
            raise WireFormatError(f"malformed statement: {exc}") from None

    @property
    def public_key(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.enterprise_key)

    @property
    def digest(self) -> str:
        """Hex SHA-256 of the statement bytes: how the platform remembers a proof it has accepted."""
        return hashlib.sha256(self.to_bytes()).hexdigest()


def prove_possession(statement: KeyStatement, key: Ed25519PrivateKey) -> bytes:
    """The enterprise key's signature over the statement that names it."""
    if public_bytes(key.public_key()) != statement.enterprise_key:
        raise ValueError("the key does not match the statement's enterprise key")
    return sign(key, Domain.KEY_POSSESSION, statement.to_bytes())


def check_possession(statement: KeyStatement, signature: bytes) -> None:
    """Raise `IdentityNotProven` unless the statement's own key signed it."""
    try:
        verify(statement.public_key, Domain.KEY_POSSESSION, statement.to_bytes(), signature)
    except InvalidSignature as exc:
        raise IdentityNotProven("the enterprise key did not sign the statement") from exc


@dataclass(frozen=True)
class IdentityProof:
    """A statement signed by an identity credential (`signature`, `credential` are the provider's business)
    and by the key it asks to bind (`key_signature`)."""

    provider: str
    statement: bytes
    signature: bytes
    credential: bytes
    key_signature: bytes

    def to_json(self) -> dict[str, str]:
        return {"provider": self.provider, "statement": b64encode(self.statement),
                "signature": b64encode(self.signature), "credential": b64encode(self.credential),
                "key_signature": b64encode(self.key_signature)}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> IdentityProof:
        provider = require(obj, "provider", str)
        if not _PROVIDER.fullmatch(provider):
            raise WireFormatError("provider must be a short lowercase name")
        return cls(provider, b64decode(require(obj, "statement", str)), b64decode(require(obj, "signature", str)),
                   b64decode(require(obj, "credential", str)), b64decode(require(obj, "key_signature", str)))


@dataclass(frozen=True)
class IdentityAssertion:
    """What an identity provider vouches for after checking its credential: the enterprise's credit code
    and registered name, how identity was checked, and a digest of the evidence (kept on record)."""

    credit_code: str
    name: str
    identity_check: IdentityCheck
    evidence_digest: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "identity_check", IdentityCheck(self.identity_check))


class IdentityProvider(Protocol):
    """A city's way of proving who an enterprise is. `verify` checks the provider's own evidence in
    `proof.credential` and that the credential signed `proof.statement` (domain `IDENTITY_PROOF`); it raises
    `IdentityNotProven`. The generic checks (purpose, audience, freshness, key possession, replay) are the
    platform's, so a provider needs to know nothing of them."""

    @property
    def name(self) -> str: ...

    def verify(self, proof: IdentityProof, *, now: datetime) -> IdentityAssertion: ...


@dataclass(frozen=True)
class VerifiedProof:
    """An accepted identity proof: the statement and the provider's assertion about its credential."""

    statement: KeyStatement
    assertion: IdentityAssertion


def check_proof(proof: IdentityProof, provider: IdentityProvider, *, purpose: ProofPurpose, audience: str,
                now: datetime, window: timedelta = PROOF_WINDOW) -> VerifiedProof:
    """Every check of an identity proof except replay (which needs the platform's memory); raises
    `IdentityNotProven` with the reason in its (non-public) message."""
    if proof.provider != provider.name:
        raise IdentityNotProven(f"proof is for provider {proof.provider}, this platform uses {provider.name}")
    try:
        statement = KeyStatement.from_bytes(proof.statement)
    except WireFormatError as exc:
        raise IdentityNotProven(f"malformed statement: {exc}") from None
    if statement.purpose is not purpose:
        raise IdentityNotProven(f"statement is for {statement.purpose.value}, not {purpose.value}")
    if statement.audience != audience:
        raise IdentityNotProven(f"statement is meant for {statement.audience}")
    check_fresh(statement, now=now, window=window)
    assertion = provider.verify(proof, now=now)
    if assertion.credit_code != statement.credit_code:
        raise IdentityNotProven("the credential is another enterprise's")
    check_possession(statement, proof.key_signature)
    return VerifiedProof(statement, assertion)


def check_fresh(statement: KeyStatement, *, now: datetime, window: timedelta = PROOF_WINDOW) -> None:
    """Raise `IdentityNotProven` unless the statement was issued within `window` before `now` (a little
    clock skew into the future is allowed)."""
    now = utc_seconds(now)
    if statement.issued_at > now + CLOCK_SKEW:
        raise IdentityNotProven("statement issued in the future")
    if statement.issued_at < now - window:
        raise IdentityNotProven("statement too old")
