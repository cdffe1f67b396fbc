"""Canonical wire forms shared by every artefact: RFC 8785 JSON, UTC second-precision times, base64 bytes."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

import rfc8785

from consent.authorisation.errors import WireFormatError
from consent.canonical_json import canonical_json

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def parse_canonical(data: bytes) -> dict[str, Any]:
    """Parse a JSON object and insist it was canonical: a re-encoding must give the same bytes back.

    Refusing non-canonical input closes malleability (two byte strings meaning one request).
    """
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WireFormatError(f"not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise WireFormatError("not a JSON object")
    try:
        again = canonical_json(value)
    except rfc8785.CanonicalizationError as exc:
        raise WireFormatError(f"not canonicalisable: {exc}") from exc
    if again != data:
        raise WireFormatError("JSON is not in RFC 8785 canonical form")
    return value


def utc_seconds(moment: datetime) -> datetime:
    """The same instant in UTC with sub-second digits dropped; naive datetimes are refused."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise WireFormatError("naive datetime: pass an aware (UTC) datetime")
    return moment.astimezone(UTC).replace(microsecond=0)


def format_time(moment: datetime) -> str:
    """RFC 3339 UTC text with second precision, e.g. 2025-03-01T08:00:00Z."""
    return utc_seconds(moment).strftime(_TIME_FORMAT)


def parse_time(text: object) -> datetime:
    """Inverse of `format_time`; any other spelling is refused so the canonical bytes stay unique."""
    if not isinstance(text, str):
        raise WireFormatError(f"time must be a string, got {type(text).__name__}")
    try:
        moment = datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError as exc:
        raise WireFormatError("bad time: expected YYYY-MM-DDTHH:MM:SSZ") from exc
    if format_time(moment) != text:
        raise WireFormatError("non-canonical time: expected YYYY-MM-DDTHH:MM:SSZ")
    return moment


def b64encode(data: bytes) -> str:
    """Standard base64 with padding."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: object) -> bytes:
    """Strict standard base64; anything else is a wire-format error."""
    if not isinstance(text, str):
        raise WireFormatError(f"base64 field must be a string, got {type(text).__name__}")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise WireFormatError(f"bad base64: {exc}") from exc


def require(obj: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    """Fetch a required field of a given JSON type or raise `WireFormatError` naming it."""
    if not isinstance(obj, dict):
        raise WireFormatError(f"expected an object holding {key!r}")
    if key not in obj:
        raise WireFormatError(f"missing field {key!r}")
    value = obj[key]
    if isinstance(value, bool) and kind is int:
        raise WireFormatError(f"field {key!r} must be an integer")
    if not isinstance(value, kind):
        raise WireFormatError(f"field {key!r} has type {type(value).__name__}")
    return value
