"""Webhook signatures: `XYD-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`.

The timestamp is inside the MAC so a captured delivery cannot be replayed later than the receiver's
tolerance; receivers should also drop repeated `XYD-Delivery-Id`s (delivery is at-least-once).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime

from errors import IntegrityFailure

SIGNATURE_HEADER = "XYD-Signature"
DELIVERY_HEADER = "XYD-Delivery-Id"
EVENT_HEADER = "XYD-Event"
_HEADER = re.compile(r"t=(\d{1,12}),v1=([0-9a-f]{64})")


class WebhookSignatureError(IntegrityFailure):
    """A webhook's signature header is missing, malformed, stale, or does not match the body."""


def _mac(secret: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def signature_header(secret: bytes, body: bytes, *, now: datetime) -> str:
    timestamp = int(now.timestamp())
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify_signature(secret: bytes, header: str | None, body: bytes, *, now: datetime, tolerance_s: int = 300) -> None:
    """Raise `WebhookSignatureError` unless `header` signs `body` under `secret` within `tolerance_s` of now."""
    match = _HEADER.fullmatch(header or "")
    if match is None:
        raise WebhookSignatureError("missing or malformed signature header")
    timestamp = int(match.group(1))
    if abs(now.timestamp() - timestamp) > tolerance_s:
        raise WebhookSignatureError(f"signature time {timestamp} is outside the {tolerance_s} s tolerance")
    if not hmac.compare_digest(_mac(secret, timestamp, body), match.group(2)):
        raise WebhookSignatureError("signature does not match the body")
