"""Signed requests of a source unit's administrator to its own node's admin endpoint.

The administrator signs each HTTP request with the unit's approval key (Ed25519) over
`xyd/governance/admin/v1 || 0x00 || METHOD \\n PATH \\n TIME \\n NONCE \\n SHA-256(body)`; the node checks the
signature with the public key in its config, the time within a window of its own clock, and that the nonce
was not seen within that window (replay).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from consent.governance.errors import GovernanceError
from errors import Refused

DOMAIN = b"xyd/governance/admin/v1"
TIME, NONCE, SIGNATURE = "X-Xyd-Time", "X-Xyd-Nonce", "X-Xyd-Signature"
WINDOW_S = 60
_NONCE = re.compile(r"^[0-9a-f]{32}$")


class AdminAuthError(GovernanceError, Refused):
    """An admin request that is unsigned, signed by another key, stale, from the future or replayed."""


def _message(method: str, path: str, at: int, nonce: str, body: bytes) -> bytes:
    text = f"{method.upper()}\n{path}\n{at}\n{nonce}\n{hashlib.sha256(body).hexdigest()}"
    return DOMAIN + b"\x00" + text.encode("utf-8")


def sign_admin_request(key: Ed25519PrivateKey, method: str, path: str, body: bytes, *, at: int,
                       nonce: str | None = None) -> dict[str, str]:
    """The headers that authenticate one request (`path` with its query string)."""
    nonce = nonce or os.urandom(16).hex()
    signature = key.sign(_message(method, path, at, nonce, body))
    return {TIME: str(at), NONCE: nonce, SIGNATURE: base64.b64encode(signature).decode("ascii")}


@dataclass
class AdminVerifier:
    """Checks admin requests against one public key; remembers nonces for the window."""

    key: Ed25519PublicKey
    window_s: int = WINDOW_S

    def __post_init__(self) -> None:
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()

    def verify(self, method: str, path: str, headers: Mapping[str, str], body: bytes, *, now: int) -> None:
        """Raise `AdminAuthError` unless the request is signed by the key, fresh and not replayed."""
        try:
            at = int(headers.get(TIME, ""))
            nonce = headers.get(NONCE, "")
            signature = base64.b64decode(headers.get(SIGNATURE, ""), validate=True)
        except (ValueError, binascii.Error):
            raise AdminAuthError("missing or malformed signature headers") from None
        if not _NONCE.match(nonce):
            raise AdminAuthError("the nonce must be 32 lowercase hex digits")
        if abs(now - at) > self.window_s:
            raise AdminAuthError("the request time is outside the accepted window")
        try:
            self.key.verify(signature, _message(method, path, at, nonce, body))
        except InvalidSignature:
            raise AdminAuthError("the signature does not verify with the administrator's key") from None
        with self._lock:
            for old in [n for n, expires in self._seen.items() if expires < now]:
                del self._seen[old]
            if nonce in self._seen:
                raise AdminAuthError("replayed request")
            self._seen[nonce] = at + self.window_s
