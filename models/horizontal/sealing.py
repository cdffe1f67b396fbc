"""AES-256-GCM sealing of a model under a key the banks share, bound to the run and round.

Used where the aggregator only relays a model (cyclic boosting): it forwards bytes it cannot read, and
the binding stops it replaying an older round's model or one from another run.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from models.horizontal.errors import InvalidParameterError, SealBrokenError

NONCE_BYTES = 12
KEY_BYTES = 32


def binding(run_id: int, round_number: int, purpose: str) -> bytes:
    """Associated data naming what the sealed bytes are: a model of this run at the end of this round."""
    return f"xyd-horizontal/{purpose}/run-{run_id}/round-{round_number}".encode()


def seal(key: bytes, plaintext: bytes, associated: bytes, *, nonce_source: Callable[[int], bytes] = os.urandom) -> bytes:
    """nonce || AES-GCM(plaintext); a fresh random nonce per call (a reused nonce breaks GCM)."""
    if len(key) != KEY_BYTES:
        raise InvalidParameterError(f"sealing key must be {KEY_BYTES} bytes")
    nonce = nonce_source(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, associated)


def open_sealed(key: bytes, sealed: bytes, associated: bytes) -> bytes:
    """Inverse of `seal`; raises SealBrokenError on any mismatch (key, binding, or a flipped bit)."""
    if len(sealed) < NONCE_BYTES + 16:
        raise SealBrokenError("sealed blob too short")
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], associated)
    except InvalidTag as exc:
        raise SealBrokenError("sealed model failed authentication (wrong key, run, round, or tampered)") from exc
