"""The source node's application keys: one Ed25519 key signs answers, another cosigns checkpoints.

Kept as PKCS#8 PEM files (0600) in the node's state folder and created on first start; their public halves
are bound to the node's certificate (`federation.key_binding`) so banks and the platform can check them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from federation.key_binding import KeyPurpose, bind_keys, load_or_create_ed25519, raw_public
from federation.pki import NodeTls
from federation.proto import verification_pb2


@dataclass(frozen=True)
class NodeKeys:
    """The answer-signing and witness-cosigning keys of one source node."""

    answer_signing: Ed25519PrivateKey
    witness: Ed25519PrivateKey

    @classmethod
    def load_or_create(cls, folder: Path) -> NodeKeys:
        return cls(load_or_create_ed25519(folder / "answer-signing.pem"), load_or_create_ed25519(folder / "witness.pem"))

    def binding(self, tls: NodeTls, *, now: datetime) -> verification_pb2.KeyBinding:
        """The public halves, signed with the node's certificate key."""
        return bind_keys(tls, {KeyPurpose.ANSWER_SIGNING: raw_public(self.answer_signing),
                               KeyPurpose.WITNESS: raw_public(self.witness)}, now=now)
