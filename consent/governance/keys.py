"""The source unit's approval key on disk: an Ed25519 private key (PKCS#8 PEM, mode 0600, optionally encrypted
under a passphrase) kept by the unit's administrator, and its public half (PEM) that the unit's node trusts."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from consent.governance.errors import GovernanceError
from errors import ConfigurationError


class ApprovalKeyError(GovernanceError, ConfigurationError):
    """An approval key file is missing, unreadable, of another type, or its passphrase is wrong."""


def create_approval_key(private_path: Path, public_path: Path, *, passphrase: bytes | None = None
                        ) -> Ed25519PrivateKey:
    """Generate a key; write the private half (0600, never overwriting) and the public half."""
    key = Ed25519PrivateKey.generate()
    encryption = (serialization.BestAvailableEncryption(passphrase) if passphrase
                  else serialization.NoEncryption())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    try:
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ApprovalKeyError(f"{private_path} exists: refusing to overwrite an approval key") from None
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    public_path.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo))
    return key


def load_approval_private_key(path: Path, *, passphrase: bytes | None = None) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=passphrase or None)
    except FileNotFoundError:
        raise ApprovalKeyError(f"approval key {path} not found") from None
    except (ValueError, TypeError) as exc:
        raise ApprovalKeyError(f"approval key {path}: cannot read it ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ApprovalKeyError(f"approval key {path} is not an Ed25519 key")
    return key


def load_approval_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except FileNotFoundError:
        raise ApprovalKeyError(f"approval public key {path} not found") from None
    except ValueError as exc:
        raise ApprovalKeyError(f"approval public key {path}: cannot read it ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ApprovalKeyError(f"approval public key {path} is not an Ed25519 key")
    return key
