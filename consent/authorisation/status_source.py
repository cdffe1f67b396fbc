"""Where the gate learns an artefact's current status: online from the registry, or from a signed statement.

When the registry is unreachable the platform relays a `SignedStatus`: the registry's Ed25519 signature over
(authorisation id, status, issued_at, expires_at). Its short life bounds how long a revocation can go unseen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from consent.authorisation.codec import (
    canonical_json,
    format_time,
    parse_canonical,
    parse_time,
    require,
)
from consent.authorisation.errors import (
    AuthorisationRefused,
    InvalidSignature,
    RefusalReason,
    StatusUnavailable,
    WireFormatError,
)
from consent.authorisation.lifecycle import Status
from consent.authorisation.signatures import Domain, SignedPayload, sign, verify
from consent.authorisation.store import AuthorisationStore


class StatusSource(Protocol):
    """The online status of an artefact; raises `StatusUnavailable` when the registry cannot be reached and
    `UnknownAuthorisation` when it does not know the id."""

    def current_status(self, authorisation_id: str, *, now: datetime) -> Status: ...


class StoreStatusSource:
    """Reads the status straight from an in-process `AuthorisationStore` (registry embedded, or tests)."""

    def __init__(self, store: AuthorisationStore) -> None:
        self._store = store

    def current_status(self, authorisation_id: str, *, now: datetime) -> Status:
        return self._store.status(authorisation_id)


class UnreachableRegistry:
    """A status source that is always down: models a partition, so only signed statements work."""

    def current_status(self, authorisation_id: str, *, now: datetime) -> Status:
        raise StatusUnavailable("registry unreachable")


@dataclass(frozen=True)
class StatusStatement:
    """What the registry asserts: this artefact had this status at `issued_at`, trust it until `expires_at`."""

    authorisation_id: str
    status: Status
    issuer: str
    issued_at: datetime
    expires_at: datetime

    def to_json(self) -> dict[str, str]:
        return {
            "authorisation_id": self.authorisation_id,
            "status": Status(self.status).value,
            "issuer": self.issuer,
            "issued_at": format_time(self.issued_at),
            "expires_at": format_time(self.expires_at),
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> StatusStatement:
        if set(obj) != {"authorisation_id", "status", "issuer", "issued_at", "expires_at"}:
            raise WireFormatError("unexpected status statement fields")
        try:
            status = Status(require(obj, "status", str))
        except ValueError as exc:
            raise WireFormatError(str(exc)) from exc
        return cls(
            authorisation_id=require(obj, "authorisation_id", str),
            status=status,
            issuer=require(obj, "issuer", str),
            issued_at=parse_time(require(obj, "issued_at", str)),
            expires_at=parse_time(require(obj, "expires_at", str)),
        )


@dataclass(frozen=True)
class SignedStatus(SignedPayload):
    """A status statement as signed bytes plus the registry's signature."""

    def verify(
        self,
        registry_key: Ed25519PublicKey,
        *,
        authorisation_id: str,
        now: datetime,
        max_ttl: timedelta,
        clock_skew: timedelta,
    ) -> StatusStatement:
        """Check signature, subject, freshness and lifetime; raises `AuthorisationRefused(BAD_STATUS_STATEMENT)`."""
        try:
            verify(registry_key, Domain.STATUS, self.payload, self.signature)
            statement = StatusStatement.from_json(parse_canonical(self.payload))
        except (InvalidSignature, WireFormatError) as exc:
            raise AuthorisationRefused(RefusalReason.BAD_STATUS_STATEMENT, str(exc)) from exc
        if statement.authorisation_id != authorisation_id:
            raise AuthorisationRefused(RefusalReason.BAD_STATUS_STATEMENT, "statement is about another artefact")
        if statement.expires_at - statement.issued_at > max_ttl:
            raise AuthorisationRefused(RefusalReason.BAD_STATUS_STATEMENT, "statement lives longer than allowed")
        if statement.issued_at > now + clock_skew:
            raise AuthorisationRefused(RefusalReason.BAD_STATUS_STATEMENT, "statement issued in the future")
        if now >= statement.expires_at:
            raise AuthorisationRefused(RefusalReason.BAD_STATUS_STATEMENT, "statement expired")
        return statement


def issue_status(
    authorisation_id: str,
    status: Status,
    key: Ed25519PrivateKey,
    *,
    issuer: str,
    now: datetime,
    ttl: timedelta,
) -> SignedStatus:
    """The registry's signed statement of `status` for `authorisation_id`, valid for `ttl` from `now`."""
    statement = StatusStatement(authorisation_id, Status(status), issuer, now, now + ttl)
    payload = canonical_json(statement.to_json())
    return SignedStatus(payload, sign(key, Domain.STATUS, payload))
