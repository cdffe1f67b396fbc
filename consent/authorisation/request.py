"""The bank's signed verification request and the envelope the platform relays to the source node.

The bank signs canonical JSON of (nonce, timestamp, authorisation id, requester, provider, purpose, loan
reference, question). The envelope also carries the enterprise-signed artefact and, when the registry is
unreachable, a registry-signed status: both authenticate themselves, so the relay cannot forge them, only
withhold or swap them, and a swap is caught by the id binding.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

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
from consent.authorisation.errors import InvalidQuestion, InvalidTerms, WireFormatError
from consent.authorisation.questions import Question, question_from_json
from consent.authorisation.signatures import Domain, SignedTerms, sign
from consent.authorisation.status_source import SignedStatus
from consent.authorisation.terms import Purpose, check_identity

NONCE_BYTES = 16
_NONCE = re.compile(r"^[0-9a-f]{32}$")
_AUTHORISATION_ID = re.compile(r"^auth-[0-9a-f]{64}$")
_FIELDS = {
    "nonce",
    "timestamp",
    "authorisation_id",
    "requester",
    "provider",
    "purpose",
    "loan_application_ref",
    "question",
}


@dataclass(frozen=True)
class VerificationRequest:
    """What the bank asks and signs. `provider` names the one source node meant to answer it."""

    nonce: str
    timestamp: datetime
    authorisation_id: str
    requester: str
    provider: str
    purpose: Purpose
    loan_application_ref: str
    question: Question

    def __post_init__(self) -> None:
        if not _NONCE.match(self.nonce):
            raise WireFormatError("nonce must be 32 lowercase hex characters")
        if not _AUTHORISATION_ID.match(self.authorisation_id):
            raise WireFormatError("authorisation id must be auth- and 64 lowercase hex characters")
        object.__setattr__(self, "timestamp", utc_seconds(self.timestamp))
        object.__setattr__(self, "purpose", Purpose(self.purpose))
        try:
            check_identity(self.requester, "requester")
            check_identity(self.provider, "provider")
        except InvalidTerms as exc:
            raise WireFormatError(str(exc)) from exc

    @classmethod
    def new(
        cls,
        *,
        authorisation_id: str,
        requester: str,
        provider: str,
        purpose: Purpose,
        loan_application_ref: str,
        question: Question,
        now: datetime,
        rng: Callable[[int], bytes] = os.urandom,
    ) -> VerificationRequest:
        """A fresh request with a random nonce and the current time."""
        return cls(
            rng(NONCE_BYTES).hex(),
            now,
            authorisation_id,
            requester,
            provider,
            purpose,
            loan_application_ref,
            question,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "nonce": self.nonce,
            "timestamp": format_time(self.timestamp),
            "authorisation_id": self.authorisation_id,
            "requester": self.requester,
            "provider": self.provider,
            "purpose": self.purpose.value,
            "loan_application_ref": self.loan_application_ref,
            "question": self.question.to_json(),
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> VerificationRequest:
        if set(obj) != _FIELDS:
            raise WireFormatError(f"request fields are not exactly {sorted(_FIELDS)}")
        try:
            return cls(
                nonce=require(obj, "nonce", str),
                timestamp=parse_time(require(obj, "timestamp", str)),
                authorisation_id=require(obj, "authorisation_id", str),
                requester=require(obj, "requester", str),
                provider=require(obj, "provider", str),
                purpose=Purpose(require(obj, "purpose", str)),
                loan_application_ref=require(obj, "loan_application_ref", str),
                question=question_from_json(require(obj, "question", dict)),
            )
        except (ValueError, InvalidQuestion) as exc:
            if isinstance(exc, WireFormatError):
                raise
            raise WireFormatError(str(exc)) from exc


def request_id(payload: bytes) -> str:
    """`req-` + hex SHA-256 of the signed payload: names exactly the bytes the bank signed."""
    return "req-" + hashlib.sha256(payload).hexdigest()


@dataclass(frozen=True)
class SignedRequest:
    """What the platform relays: the bank's signed payload, the artefact, and optionally a signed status."""

    payload: bytes
    signature: bytes
    artefact: SignedTerms
    status: SignedStatus | None = None

    @property
    def request_id(self) -> str:
        return request_id(self.payload)

    def parse(self) -> VerificationRequest:
        """The request inside, if the payload is canonical and well formed; raises `WireFormatError`."""
        return VerificationRequest.from_json(parse_canonical(self.payload))

    def with_status(self, status: SignedStatus | None) -> SignedRequest:
        """The same request with a (new) status statement attached, as a relay would."""
        return SignedRequest(self.payload, self.signature, self.artefact, status)

    def to_json(self) -> dict[str, Any]:
        return {
            "payload": b64encode(self.payload),
            "signature": b64encode(self.signature),
            "artefact": self.artefact.to_json(),
            "status": None if self.status is None else self.status.to_json(),
        }

    def to_bytes(self) -> bytes:
        """Canonical JSON bytes, for a protobuf `bytes` field or an HTTP body."""
        return canonical_json(self.to_json())

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> SignedRequest:
        status = obj.get("status")
        if status is not None and not isinstance(status, dict):
            raise WireFormatError("status must be an object or null")
        return cls(
            b64decode(require(obj, "payload", str)),
            b64decode(require(obj, "signature", str)),
            SignedTerms.from_json(require(obj, "artefact", dict)),
            None if status is None else SignedStatus.from_json(status),
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> SignedRequest:
        return cls.from_json(parse_canonical(data))


def sign_request(
    request: VerificationRequest,
    key: Ed25519PrivateKey,
    *,
    artefact: SignedTerms,
    status: SignedStatus | None = None,
) -> SignedRequest:
    """The bank's signature over the canonical request, packed with the artefact it relies on."""
    payload = canonical_json(request.to_json())
    return SignedRequest(payload, sign(key, Domain.REQUEST, payload), artefact, status)
