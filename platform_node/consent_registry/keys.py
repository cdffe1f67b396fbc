"""The registry's own keys: one Ed25519 key signs statuses and enterprise-key statements, one signs the
audit log's checkpoints, and an HMAC key turns credit codes into leaf references (`subject_ref`).

Kept in the platform's state folder (0600), created on first start; the two public keys are bound to the
platform's certificate so source nodes, banks and compliance officers can check them against the CA.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent.audit import Ed25519Signer
from federation.key_binding import KeyPurpose, bind_keys, load_or_create_ed25519, log_origin, raw_public
from federation.pki import Identity, NodeTls, write_file
from federation.proto import verification_pb2

SUBJECT_REF_KEY_BYTES = 32


def load_or_create_secret(path: Path, size: int = SUBJECT_REF_KEY_BYTES) -> bytes:
    """A random secret kept in `path` (0600), created if absent."""
    if path.exists():
        secret = path.read_bytes()
        if len(secret) != size:
            raise ValueError(f"{path} must hold {size} bytes")
        return secret
    secret = os.urandom(size)
    write_file(path, secret, private=True)
    return secret


@dataclass(frozen=True)
class RegistryKeyring:
    """The registry's signing keys and its subject-reference key."""

    status_signing: Ed25519PrivateKey
    audit_log: Ed25519PrivateKey
    origin: str
    subject_ref_key: bytes

    @classmethod
    def load_or_create(cls, folder: Path, registry: Identity) -> RegistryKeyring:
        return cls(
            load_or_create_ed25519(folder / "status-signing.pem"),
            load_or_create_ed25519(folder / "audit-log.pem"),
            log_origin(registry),
            load_or_create_secret(folder / "subject-ref.key"),
        )

    @property
    def log_signer(self) -> Ed25519Signer:
        """Signs checkpoints; its name is the log's origin."""
        return Ed25519Signer(self.origin, self.audit_log)

    def binding(self, tls: NodeTls, *, now: datetime) -> verification_pb2.KeyBinding:
        """The status and log public keys, signed with the platform's certificate key."""
        return bind_keys(tls, {KeyPurpose.STATUS_SIGNING: raw_public(self.status_signing),
                               KeyPurpose.AUDIT_LOG: raw_public(self.audit_log)}, now=now)
