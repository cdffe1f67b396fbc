"""Sign an answer at the source node and seal it to the bank, so the platform relays it without reading it.

Seal: a fresh ephemeral X25519 key agrees a secret with the bank's X25519 key; HKDF-SHA256 (info binds the
label and both public keys) derives an AES-256-GCM key; the associated data binds request id, provider,
requester and the ephemeral key, so a relay that swaps headers, splices ciphertexts or flips a bit is caught.
Inside: the answer's canonical JSON and the node's Ed25519 signature over it (domain `answer`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from consent.authorisation.answers import Answer
from consent.authorisation.codec import b64decode, b64encode, canonical_json, parse_canonical, require
from consent.authorisation.errors import AnswerFault, AnswerRejected, InvalidSignature, WireFormatError
from consent.authorisation.signatures import Domain, sign, verify

SEAL_LABEL = b"xyd/consent/answer-seal/v1"
GCM_NONCE_BYTES = 12
X25519_BYTES = 32


@dataclass(frozen=True)
class SealedAnswer:
    """What the platform relays back: routing headers in the clear (bound as associated data), body sealed."""

    request_id: str
    provider: str
    requester: str
    ephemeral_public: bytes
    nonce: bytes
    ciphertext: bytes

    def associated_data(self) -> bytes:
        return canonical_json(
            {
                "label": SEAL_LABEL.decode("ascii"),
                "request_id": self.request_id,
                "provider": self.provider,
                "requester": self.requester,
                "ephemeral_public": b64encode(self.ephemeral_public),
            }
        )

    def to_json(self) -> dict[str, str]:
        return {
            "request_id": self.request_id,
            "provider": self.provider,
            "requester": self.requester,
            "ephemeral_public": b64encode(self.ephemeral_public),
            "nonce": b64encode(self.nonce),
            "ciphertext": b64encode(self.ciphertext),
        }

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_json())

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> SealedAnswer:
        return cls(
            request_id=require(obj, "request_id", str),
            provider=require(obj, "provider", str),
            requester=require(obj, "requester", str),
            ephemeral_public=b64decode(require(obj, "ephemeral_public", str)),
            nonce=b64decode(require(obj, "nonce", str)),
            ciphertext=b64decode(require(obj, "ciphertext", str)),
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> SealedAnswer:
        return cls.from_json(parse_canonical(data))


def _x25519_bytes(key: X25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _aead_key(shared: bytes, ephemeral_public: bytes, recipient_public: bytes) -> AESGCM:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=SEAL_LABEL + ephemeral_public + recipient_public)
    return AESGCM(hkdf.derive(shared))


def seal_answer(
    answer: Answer,
    *,
    signing_key: Ed25519PrivateKey,
    recipient: X25519PublicKey,
    rng: Callable[[int], bytes] = os.urandom,
) -> SealedAnswer:
    """Sign `answer` with the node's key and encrypt it to the bank's X25519 key."""
    answer_json = answer.to_json()
    signature = sign(signing_key, Domain.ANSWER, canonical_json(answer_json))
    plaintext = canonical_json({"answer": answer_json, "signature": b64encode(signature)})
    ephemeral = X25519PrivateKey.from_private_bytes(rng(X25519_BYTES))
    ephemeral_public = _x25519_bytes(ephemeral.public_key())
    recipient_public = _x25519_bytes(recipient)
    shared = ephemeral.exchange(recipient)
    header = SealedAnswer(
        answer.request_id, answer.provider, answer.requester, ephemeral_public, rng(GCM_NONCE_BYTES), b""
    )
    ciphertext = _aead_key(shared, ephemeral_public, recipient_public).encrypt(
        header.nonce, plaintext, header.associated_data()
    )
    return SealedAnswer(
        header.request_id, header.provider, header.requester, ephemeral_public, header.nonce, ciphertext
    )


def open_answer(
    sealed: SealedAnswer,
    *,
    recipient_key: X25519PrivateKey,
    provider_key: Ed25519PublicKey,
    request_id: str,
    provider: str,
) -> Answer:
    """The bank's side: decrypt, check the node's signature and that this answers the request it sent to
    the node it meant. Raises `AnswerRejected` (TAMPERED, BAD_SIGNATURE, MISMATCH or MALFORMED)."""
    if sealed.request_id != request_id or sealed.provider != provider:
        raise AnswerRejected(AnswerFault.MISMATCH, "answer is for another request or from another node")
    if len(sealed.ephemeral_public) != X25519_BYTES or len(sealed.nonce) != GCM_NONCE_BYTES:
        raise AnswerRejected(AnswerFault.MALFORMED, "bad ephemeral key or nonce length")
    recipient_public = _x25519_bytes(recipient_key.public_key())
    try:
        shared = recipient_key.exchange(X25519PublicKey.from_public_bytes(sealed.ephemeral_public))
        plaintext = _aead_key(shared, sealed.ephemeral_public, recipient_public).decrypt(
            sealed.nonce, sealed.ciphertext, sealed.associated_data()
        )
    except (InvalidTag, ValueError) as exc:
        raise AnswerRejected(AnswerFault.TAMPERED, "ciphertext or headers changed in transit") from exc
    try:
        inner = parse_canonical(plaintext)
        answer_json = require(inner, "answer", dict)
        signature = b64decode(require(inner, "signature", str))
        verify(provider_key, Domain.ANSWER, canonical_json(answer_json), signature)
        answer = Answer.from_json(answer_json)
    except InvalidSignature as exc:
        raise AnswerRejected(AnswerFault.BAD_SIGNATURE, str(exc)) from exc
    except WireFormatError as exc:
        raise AnswerRejected(AnswerFault.MALFORMED, str(exc)) from exc
    if (answer.request_id, answer.provider, answer.requester) != (
        sealed.request_id,
        sealed.provider,
        sealed.requester,
    ):
        raise AnswerRejected(AnswerFault.MISMATCH, "signed answer does not match its headers")
    return answer
