"""Witness cosignatures, c2sp.org/tlog-cosignature (Ed25519, signature type 0x04, "cosignature/v1").

The signed message is `cosignature/v1\\ntime <t>\\n` followed by the whole checkpoint text; the signature
bytes are the 8-byte big-endian timestamp then the 64-byte Ed25519 signature. A cosignature says: as of
time t, this is the largest consistent tree head the witness has seen for that origin.
"""

from __future__ import annotations

from datetime import datetime

from cryptography.exceptions import InvalidSignature

from consent.audit.errors import SignatureError
from consent.audit.note import COSIGNATURE_V1, NamedSigner, NamedVerifier, NoteSignature

_HEADER = "cosignature/v1\n"


def cosigned_message(text: str, timestamp: int) -> bytes:
    """The exact bytes a cosigner signs for checkpoint text `text` at POSIX time `timestamp`."""
    if not 0 <= timestamp < 2**63:
        raise ValueError("cosignature timestamp out of range")
    return f"{_HEADER}time {timestamp}\n{text}".encode()


class CosignatureVerifier(NamedVerifier):
    """A known witness key: checks cosignature/v1 signatures (type 0x04) and reads their timestamps."""

    SIGNATURE_TYPE = COSIGNATURE_V1

    @staticmethod
    def timestamp_of(signature: NoteSignature) -> int:
        """The POSIX time the cosignature claims (not authenticated until `verify` passes)."""
        if len(signature.signature) != 72:
            raise SignatureError(f"cosignature by {signature.name} has {len(signature.signature)} bytes, not 72")
        return int.from_bytes(signature.signature[:8], "big")

    def verify(self, text: str, signature: NoteSignature) -> None:
        timestamp = self.timestamp_of(signature)
        if timestamp >= 2**63:
            raise SignatureError(f"cosignature by {self._name} has an out-of-range timestamp")
        try:
            self._key.verify(signature.signature[8:], cosigned_message(text, timestamp))
        except InvalidSignature:
            raise SignatureError(f"cosignature by {self._name} does not verify") from None


class CosignatureSigner(NamedSigner[CosignatureVerifier]):
    """A witness's cosigning key (each source node holds one)."""

    VERIFIER = CosignatureVerifier

    def cosign(self, text: str, *, now: datetime) -> NoteSignature:
        """Cosign checkpoint text `text` at time `now` (truncated to whole seconds)."""
        timestamp = int(now.timestamp())
        signature = self._key.sign(cosigned_message(text, timestamp))
        return NoteSignature(self._name, self._verifier.key_id, timestamp.to_bytes(8, "big") + signature)
