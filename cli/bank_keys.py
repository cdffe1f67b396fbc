"""A bank's application keys (request signing, answer sealing) and the outcome of one verification, as the
bank's HTTP client (`cli/bank_http.py`) holds them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from consent.authorisation import Answer
from federation.key_binding import KeyPurpose, load_or_create_ed25519, raw_public
from federation.pki import write_file


@dataclass(frozen=True)
class BankKeys:
    """The bank's request-signing (Ed25519) and answer-sealing (X25519) keys."""

    signing: Ed25519PrivateKey
    sealing: X25519PrivateKey

    @classmethod
    def generate(cls) -> BankKeys:
        return cls(Ed25519PrivateKey.generate(), X25519PrivateKey.generate())

    @classmethod
    def load_or_create(cls, folder: Path) -> BankKeys:
        """Keys kept in `folder` (0600 files), created on first use."""
        sealing_path = folder / "answer-sealing.key"
        if sealing_path.exists():
            sealing = X25519PrivateKey.from_private_bytes(sealing_path.read_bytes())
        else:
            sealing = X25519PrivateKey.generate()
            write_file(sealing_path, sealing.private_bytes_raw(), private=True)
        return cls(load_or_create_ed25519(folder / "request-signing.pem"), sealing)

    def public_keys(self) -> dict[str, bytes]:
        sealing = self.sealing.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {KeyPurpose.REQUEST_SIGNING: raw_public(self.signing), KeyPurpose.ANSWER_SEALING: sealing}


@dataclass(frozen=True)
class VerificationResult:
    """One verification: the opened answer or the refusal code, and the registry-log receipts."""

    request_id: str
    answer: Answer | None
    refusal: str | None
    receipts: tuple[Any, ...]

    @property
    def holds(self) -> bool | None:
        """The one-bit result of a predicate or match check (None: no record, or refused)."""
        if self.answer is None or not isinstance(self.answer.result, bool | None):
            return None
        return self.answer.result
