"""Which loans may be monitored: the lending bank must hold an ACTIVE MONITOR authorisation of the enterprise
whose validity window covers now. Without one the loan is skipped (and counted), never re-scored."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from consent.authorisation import AuthorisationStore, Mode, Status


class MonitorAuthorisations(Protocol):
    def active_monitor(self, credit_code: str, grantee: str, *, now: datetime) -> str | None:
        """The id of an authorisation allowing `grantee` to monitor the enterprise now, or None."""
        ...


class StoreMonitorAuthorisations:
    """`MonitorAuthorisations` over the consent registry's `AuthorisationStore`."""

    def __init__(self, store: AuthorisationStore) -> None:
        self._store = store

    def active_monitor(self, credit_code: str, grantee: str, *, now: datetime) -> str | None:
        for record in self._store.find(credit_code=credit_code, grantee=grantee, status=Status.ACTIVE):
            terms = record.terms
            if terms.mode is Mode.MONITOR and terms.not_before <= now < terms.not_after:
                return terms.id
        return None
