"""Institutions as the platform stores them: kind, role, status, limits; ids are `kind/slug` identities."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from consent.audit.errors import EventRejected
from consent.audit.events import AuditEvent, EventKind
from platform_node.institutions.errors import InvalidInstitution

_SLUG = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


class InstitutionKind(StrEnum):
    """What sort of organisation an institution is; the id's first segment."""

    BANK = "bank"
    GUARANTOR = "guarantor"
    CREDIT_SERVICE = "credit"
    REGULATOR = "regulator"
    PLATFORM = "platform"


class Role(StrEnum):
    """What an institution's key may do: score and report back (bank), audit (compliance), operate (admin),
    read the financing statistics only (statistics: the city's first-loan and renewal service centre)."""

    BANK = "bank"
    COMPLIANCE = "compliance"
    ADMIN = "admin"
    STATISTICS = "statistics"


class InstitutionStatus(StrEnum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"


def institution_id(kind: InstitutionKind | str, slug: str) -> str:
    """The identity `kind/slug` (the same form as certificate URI SAN paths and authorisation grantees)."""
    try:
        kind = InstitutionKind(kind)
    except ValueError:
        raise InvalidInstitution(f"unknown institution kind: one of {', '.join(InstitutionKind)}") from None
    if not isinstance(slug, str) or not _SLUG.fullmatch(slug):
        raise InvalidInstitution("slug must be 1 to 63 lowercase letters, digits, '.', '_' or '-'")
    ident = f"{kind.value}/{slug}"
    try:  # the id goes into audit leaves: refuse now what the leaf rule would refuse at the first use
        AuditEvent(kind=EventKind.REQUEST_REFUSED, occurred_at=_EPOCH, institution=ident, reason_code="ONBOARDING")
    except EventRejected as exc:
        raise InvalidInstitution(f"this slug cannot appear in audit leaves: {exc.reason}") from None
    return ident


@dataclass(frozen=True)
class InstitutionLimits:
    """Requests per second (token-bucket refill), burst size, and enterprises scored per UTC day."""

    rate_per_s: float = 20.0
    burst: int = 40
    daily_quota: int = 100_000

    def __post_init__(self) -> None:
        if not (math.isfinite(self.rate_per_s) and self.rate_per_s > 0):
            raise InvalidInstitution("rate_per_s must be a positive number")
        if self.burst < 1 or self.daily_quota < 0:
            raise InvalidInstitution("burst must be >= 1 and daily_quota >= 0")


@dataclass(frozen=True)
class Institution:
    """An onboarded institution (stored form; the API shows a subset)."""

    id: str
    kind: InstitutionKind
    name: str
    role: Role
    status: InstitutionStatus
    created_at: datetime
    limits: InstitutionLimits
    webhook_url: str | None = None

    @property
    def active(self) -> bool:
        return self.status is InstitutionStatus.ACTIVE
