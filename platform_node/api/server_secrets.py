"""The platform API's server secrets, all derived (HKDF-SHA256) from one 32-byte master secret kept in a
file outside the database: the API-key pepper, the key of enterprises' keyed references in audit leaves,
and the key that seals webhook secrets. One secret to back up; each use gets an independent key."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MASTER_BYTES = 32


def _derive(master: bytes, info: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info.encode()).derive(master)


@dataclass(frozen=True, repr=False)
class PlatformSecrets:
    api_key_pepper: bytes
    subject_ref_key: bytes
    webhook_seal_key: bytes

    @classmethod
    def from_master(cls, master: bytes) -> PlatformSecrets:
        if len(master) != MASTER_BYTES:
            raise ValueError(f"the master secret must be {MASTER_BYTES} bytes")
        return cls(
            _derive(master, "xyd/platform-api/api-key-pepper/v1"),
            _derive(master, "xyd/platform-api/subject-ref/v1"),
            _derive(master, "xyd/platform-api/webhook-seal/v1"),
        )

    def __repr__(self) -> str:
        return "PlatformSecrets(<redacted>)"


def load_or_create_master(path: Path) -> bytes:
    """Read the master secret, creating it (mode 0600) on first use."""
    if path.exists():
        master = path.read_bytes()
        if len(master) != MASTER_BYTES:
            raise ValueError(f"{path} must hold exactly {MASTER_BYTES} bytes")
        return master
    path.parent.mkdir(parents=True, exist_ok=True)
    master = os.urandom(MASTER_BYTES)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(master)
    return master
