"""How an enterprise authenticates each HTTP request: an Ed25519 signature by its bound key.

    Authorization: XYD-Enterprise credit_code=<code>,key_id=<16 hex>,timestamp=<unix s>,nonce=<32 hex>,signature=<base64>
    XYD-Content-SHA256: <hex SHA-256 of the body> (of the empty string when there is no body)

The signature covers `domain || 0x00 || canonical JSON` of the method, path, query string, the body's
digest, the credit code, the key id, the timestamp and the nonce (`signing_payload`). The platform checks it
before reading the body, then checks the body against the signed digest as it streams in. Replay: a request
is accepted only within a short window around its timestamp and only once per nonce (the platform keeps the
nonces of the window). No session and no bearer secret: a captured request is good for nothing but itself,
once, within the window.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from consent.authorisation.codec import b64decode, b64encode, canonical_json, utc_seconds
from consent.authorisation.errors import WireFormatError
from consent.authorisation.signatures import Domain, key_id, sign, verify
from consent.credit_code import is_valid_credit_code

SCHEME = "XYD-Enterprise"
CONTENT_DIGEST_HEADER = "XYD-Content-SHA256"
EMPTY_DIGEST = hashlib.sha256(b"").hexdigest()
_KEY_ID = re.compile(r"[0-9a-f]{16}")
_NONCE = re.compile(r"[0-9a-f]{32}")
_DIGEST = re.compile(r"[0-9a-f]{64}")
_FIELDS = ("credit_code", "key_id", "timestamp", "nonce", "signature")


@dataclass(frozen=True)
class RequestCredentials:
    """What the Authorization header of an enterprise's request claims; nothing checked but its shape."""

    credit_code: str
    key_id: str
    timestamp: int
    nonce: str
    signature: bytes

    @property
    def limiter_key(self) -> str:
        """The failed-authentication bucket of the presented key."""
        return f"enterprise:{self.credit_code}:{self.key_id}"


def parse_authorization(value: str) -> RequestCredentials:
    """Parse the header value; raises `WireFormatError` for any other shape."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme != SCHEME:
        raise WireFormatError("not an enterprise request signature")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, text = part.strip().partition("=")
        if not sep or name not in _FIELDS or name in fields:
            raise WireFormatError("malformed enterprise request signature")
        fields[name] = text
    if set(fields) != set(_FIELDS):
        raise WireFormatError("malformed enterprise request signature")
    if not is_valid_credit_code(fields["credit_code"]) or not _KEY_ID.fullmatch(fields["key_id"]):
        raise WireFormatError("malformed enterprise request signature")
    if not _NONCE.fullmatch(fields["nonce"]) or not fields["timestamp"].isdigit() or len(fields["timestamp"]) > 12:
        raise WireFormatError("malformed enterprise request signature")
    signature = b64decode(fields["signature"])
    if len(signature) != 64:
        raise WireFormatError("malformed enterprise request signature")
    return RequestCredentials(fields["credit_code"], fields["key_id"], int(fields["timestamp"]), fields["nonce"],
                              signature)


def check_digest(value: str | None) -> str:
    """The declared body digest (lowercase hex), or the empty body's when the header is absent."""
    if value is None:
        return EMPTY_DIGEST
    if not _DIGEST.fullmatch(value):
        raise WireFormatError(f"{CONTENT_DIGEST_HEADER} must be 64 lowercase hex characters")
    return value


def signing_payload(*, method: str, path: str, query: str, content_sha256: str, credit_code: str, key_id: str,
                    timestamp: int, nonce: str) -> bytes:
    """The canonical bytes an enterprise signs for one request (under the HTTP_REQUEST domain)."""
    return canonical_json({"method": method.upper(), "path": path, "query": query, "content_sha256": content_sha256,
                           "credit_code": credit_code, "key_id": key_id, "timestamp": timestamp, "nonce": nonce})


def verify_request(credentials: RequestCredentials, key: Ed25519PublicKey, *, method: str, path: str, query: str,
                   content_sha256: str) -> None:
    """Raise `InvalidSignature` unless `key` signed this request as described by `credentials`."""
    payload = signing_payload(method=method, path=path, query=query, content_sha256=content_sha256,
                              credit_code=credentials.credit_code, key_id=credentials.key_id,
                              timestamp=credentials.timestamp, nonce=credentials.nonce)
    verify(key, Domain.HTTP_REQUEST, payload, credentials.signature)


def sign_request(key: Ed25519PrivateKey, *, credit_code: str, method: str, path: str, query: str = "",
                 body: bytes = b"", now: datetime, rng: Callable[[int], bytes] = os.urandom) -> dict[str, str]:
    """The headers that authenticate one request: Authorization and the body digest."""
    digest = hashlib.sha256(body).hexdigest()
    kid = key_id(key.public_key())
    timestamp = int(utc_seconds(now).timestamp())
    nonce = rng(16).hex()
    payload = signing_payload(method=method, path=path, query=query, content_sha256=digest, credit_code=credit_code,
                              key_id=kid, timestamp=timestamp, nonce=nonce)
    signature = b64encode(sign(key, Domain.HTTP_REQUEST, payload))
    header = (f"{SCHEME} credit_code={credit_code},key_id={kid},timestamp={timestamp},nonce={nonce},"
              f"signature={signature}")
    return {"Authorization": header, CONTENT_DIGEST_HEADER: digest}
