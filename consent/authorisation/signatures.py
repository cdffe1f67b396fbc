"""Ed25519 signatures over canonical JSON with a domain label, and the enterprise-signed artefact.

Every signed message is `domain || 0x00 || canonical_json(payload)`: the domain label stops a signature made
for one kind of message (terms, request, status, answer) from being replayed as another kind.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Self

from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from consent.authorisation.codec import (
    b64decode,
    b64encode,
    canonical_json,
    format_time,
    parse_canonical,
    parse_time,
    require,
)
from consent.authorisation.errors import InvalidSignature, InvalidTerms
from consent.authorisation.terms import Terms


class Domain(StrEnum):
    """Signature domains; one per message kind."""

    TERMS = "xyd/consent/terms/v1"
    REQUEST = "xyd/consent/request/v1"
    STATUS = "xyd/consent/status/v1"
    ANSWER = "xyd/consent/answer/v1"
    INSTRUCTION = "xyd/consent/instruction/v1"  # an enterprise's decline, pause, resume or revocation
    DECLARATION = "xyd/enterprise/declaration/v1"  # self-declared information with its credit commitment
    IDENTITY_PROOF = "xyd/enterprise/identity-proof/v1"  # signed by an identity credential (certificate)
    KEY_POSSESSION = "xyd/enterprise/key-possession/v1"  # signed by the enterprise key being bound
    HTTP_REQUEST = "xyd/enterprise/http-request/v1"  # each HTTP request an enterprise sends


def public_bytes(key: Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of an Ed25519 public key."""
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """Hex of the first 8 bytes of SHA-256 over the raw key: short, stable, collision-resistant enough to
    name a key among one enterprise's keys (the full key is what verifies)."""
    return hashlib.sha256(public_bytes(key)).digest()[:8].hex()


def signed_message(domain: Domain, payload: bytes) -> bytes:
    """The exact bytes an Ed25519 key signs for `payload` in `domain`."""
    return domain.value.encode("ascii") + b"\x00" + payload


def sign(key: Ed25519PrivateKey, domain: Domain, payload: bytes) -> bytes:
    """Sign canonical payload bytes in a domain."""
    return key.sign(signed_message(domain, payload))


def verify(key: Ed25519PublicKey, domain: Domain, payload: bytes, signature: bytes) -> None:
    """Raise `InvalidSignature` unless `signature` is `key`'s signature of `payload` in `domain`."""
    try:
        key.verify(signature, signed_message(domain, payload))
    except _CryptoInvalidSignature as exc:
        raise InvalidSignature(f"{domain.value} signature does not verify") from exc


@dataclass(frozen=True)
class SignedPayload:
    """Canonical JSON bytes exactly as signed and the signature over them; each subclass says what the bytes
    hold and in which domain they are signed. Holding the bytes as signed means verification never depends on
    re-serialising."""

    payload: bytes
    signature: bytes

    @property
    def digest(self) -> str:
        """Hex SHA-256 of the signed bytes: the envelope's name in audit leaves and stores."""
        return hashlib.sha256(self.payload).hexdigest()

    def to_json(self) -> dict[str, str]:
        return {"payload": b64encode(self.payload), "signature": b64encode(self.signature)}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Self:
        return cls(b64decode(require(obj, "payload", str)), b64decode(require(obj, "signature", str)))


@dataclass(frozen=True)
class SignedTerms(SignedPayload):
    """An enterprise-signed artefact: canonical payload {terms, key_id, signed_at} and its signature."""

    @property
    def content(self) -> dict[str, Any]:
        return parse_canonical(self.payload)

    @property
    def terms(self) -> Terms:
        return Terms.from_json(require(self.content, "terms", dict))

    @property
    def key_id(self) -> str:
        return require(self.content, "key_id", str)

    @property
    def signed_at(self) -> datetime:
        return parse_time(require(self.content, "signed_at", str))

    def check_shape(self) -> Terms:
        """Parse and validate everything except the signature; returns the terms."""
        content = self.content
        if set(content) != {"terms", "key_id", "signed_at"}:
            raise InvalidTerms("artefact fields are not exactly ['key_id', 'signed_at', 'terms']")
        self.key_id  # noqa: B018 - parsing is the check
        self.signed_at  # noqa: B018
        return self.terms

    def verify_with(self, key: Ed25519PublicKey) -> Terms:
        """Check the enterprise signature with `key`; returns the terms. Raises `InvalidSignature`."""
        terms = self.check_shape()
        verify(key, Domain.TERMS, self.payload, self.signature)
        return terms


def sign_terms(terms: Terms, key: Ed25519PrivateKey, *, signed_at: datetime) -> SignedTerms:
    """The enterprise's signature over its terms, naming the key it used and when it signed."""
    payload = canonical_json(
        {"terms": terms.to_json(), "key_id": key_id(key.public_key()), "signed_at": format_time(signed_at)}
    )
    return SignedTerms(payload, sign(key, Domain.TERMS, payload))

