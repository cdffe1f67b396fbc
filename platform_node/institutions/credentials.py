"""API keys: a public key id plus a random secret; the platform stores only HMAC-SHA256(pepper, id, secret).

Token form: `xyd.<key id: 16 hex>.<secret: 43 chars base64url>` (256 random bits). The pepper is a server
secret kept outside the database, so a stolen database alone does not allow an offline guess of any key, and
the secret's 256 bits make guessing hopeless even with the pepper. Comparison is constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from collections.abc import Callable
from dataclasses import dataclass

from platform_node.institutions.errors import InvalidCredentials

TOKEN_PREFIX = "xyd"
_TOKEN = re.compile(r"xyd\.([0-9a-f]{16})\.([A-Za-z0-9_-]{43})")
_KEY_ID = re.compile(r"\s*xyd\.([0-9a-f]{16})\.")
_DOMAIN = b"xyd/api-key/v1\x00"
MIN_PEPPER_BYTES = 32


@dataclass(frozen=True)
class IssuedKey:
    """A freshly issued key: shown once to the institution, never stored in this form."""

    key_id: str
    secret: str

    @property
    def token(self) -> str:
        return f"{TOKEN_PREFIX}.{self.key_id}.{self.secret}"

    def __repr__(self) -> str:  # keep the secret out of logs and tracebacks
        return f"IssuedKey(key_id={self.key_id!r}, secret=<redacted>)"


class KeyHasher:
    """Issues keys and computes their stored hashes under the server pepper."""

    def __init__(self, pepper: bytes, *, randbytes: Callable[[int], bytes] = os.urandom) -> None:
        if len(pepper) < MIN_PEPPER_BYTES:
            raise ValueError(f"the API-key pepper needs at least {MIN_PEPPER_BYTES} bytes")
        self._pepper, self._randbytes = pepper, randbytes

    def issue(self) -> IssuedKey:
        key_id = self._randbytes(8).hex()
        secret = base64.urlsafe_b64encode(self._randbytes(32)).rstrip(b"=").decode("ascii")
        return IssuedKey(key_id, secret)

    def digest(self, key_id: str, secret: str) -> bytes:
        message = _DOMAIN + key_id.encode("ascii") + b"\x00" + secret.encode("ascii")
        return hmac.new(self._pepper, message, hashlib.sha256).digest()

    def check(self, key_id: str, secret: str, stored: bytes | None) -> None:
        """Raise `InvalidCredentials` unless the secret hashes to `stored` (constant-time); an unknown key
        (`stored` None) costs the same work, so timing does not tell unknown ids from wrong secrets."""
        computed = self.digest(key_id, secret)
        same = hmac.compare_digest(computed, stored if stored is not None else bytes(32))
        if not same or stored is None:
            raise InvalidCredentials("unknown or wrong API key")


def parse_token(token: str) -> tuple[str, str]:
    """Split a presented token into (key id, secret); raises `InvalidCredentials` if it is not one."""
    match = _TOKEN.fullmatch(token.strip()) if isinstance(token, str) else None
    if match is None:
        raise InvalidCredentials("malformed API key")
    return match.group(1), match.group(2)


def key_id_of(token: str | None) -> str | None:
    """The key id a presented token names, if it has the shape of one (its secret need not be well formed):
    what failed authentications are counted against."""
    match = _KEY_ID.match(token) if isinstance(token, str) else None
    return None if match is None else match.group(1)
