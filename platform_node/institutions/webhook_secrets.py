"""Webhook signing secrets at rest: sealed with AES-256-GCM under a server key, bound to the institution id.

The platform must be able to recompute HMACs, so it keeps the secret, but only sealed: the database alone
does not reveal it, and a sealed secret copied to another institution's row does not open (the id is the
associated data).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from platform_node.institutions.errors import InstitutionError

_NONCE_BYTES = 12


class SealedSecretError(InstitutionError):
    """A sealed secret does not open under this key for this institution."""


class SecretBox:
    """Seal and open small secrets with AES-256-GCM; the nonce is random and stored in front."""

    def __init__(self, key: bytes, *, randbytes: Callable[[int], bytes] = os.urandom) -> None:
        if len(key) != 32:
            raise ValueError("the webhook sealing key must be 32 bytes")
        self._aead, self._randbytes = AESGCM(key), randbytes

    def seal(self, secret: bytes, owner: str) -> bytes:
        nonce = self._randbytes(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, secret, owner.encode())

    def open(self, sealed: bytes, owner: str) -> bytes:
        try:
            return self._aead.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], owner.encode())
        except (InvalidTag, ValueError):
            raise SealedSecretError(f"sealed webhook secret of {owner} does not open") from None
