"""Session ids and CSRF tokens: random, stored only as digests where a copy of the store must open nothing, and
compared in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Callable

CSRF_FIELD = "csrf"


def random_token(randbytes: Callable[[int], bytes] = os.urandom) -> str:
    """32 random bytes, URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(randbytes(32)).rstrip(b"=").decode("ascii")


def digest(token: str) -> str:
    """SHA-256 (hex) of a token: what a session store keeps instead of the session id."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def same_token(given: object, expected: str) -> bool:
    """Whether a submitted token (any form value, possibly missing) is `expected`, compared in constant time."""
    return bool(expected) and isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode())
