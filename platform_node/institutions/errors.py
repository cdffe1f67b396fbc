"""Errors of onboarding, credentials, agreements and limits; the HTTP edge maps each to one public answer."""

from __future__ import annotations

import math

from errors import AlreadyExists, InvalidInput, NotFound, Refused, XydError


class InstitutionError(XydError):
    """Base of every error raised by `platform_node.institutions`."""


class UnknownInstitution(InstitutionError, NotFound):
    """No institution with this id is on record."""

    def __init__(self, institution_id: str) -> None:
        super().__init__(f"unknown institution {institution_id!r}")
        self.institution_id = institution_id


class DuplicateInstitution(InstitutionError, AlreadyExists):
    """An institution with this id is already on record."""

    def __init__(self, institution_id: str) -> None:
        super().__init__(f"institution {institution_id!r} already exists")
        self.institution_id = institution_id


class InvalidInstitution(InstitutionError, InvalidInput):
    """An onboarding field is malformed (id, kind, role, limits, webhook URL)."""


class InvalidCredentials(InstitutionError, Refused):
    """The presented API key is malformed, unknown, revoked or wrong; one public answer for all four."""


class InstitutionSuspended(InstitutionError, Refused):
    """The key is right but the institution is suspended."""

    def __init__(self, institution_id: str) -> None:
        super().__init__(f"institution {institution_id!r} is suspended")
        self.institution_id = institution_id


class NoAgreement(InstitutionError, Refused):
    """No data-security agreement covers this scope now."""

    def __init__(self, institution_id: str, scope: str) -> None:
        super().__init__(f"{institution_id} has no data-security agreement in force for {scope}")
        self.institution_id, self.scope = institution_id, scope


class RateLimited(InstitutionError, Refused):
    """Too many requests now; `retry_after_s` says when one would be allowed (whole seconds, >= 1)."""

    reason = "RATE_LIMITED"

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = max(1, math.ceil(retry_after_s))


class QuotaExhausted(RateLimited):
    """The institution's daily quota of scored enterprises is used up until the next UTC day."""

    reason = "QUOTA_EXHAUSTED"
