"""Data-security agreements: which bulk services an institution may use (scope) and for how long (term)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Engine, and_, insert, select

from consent.authorisation.schema import from_epoch, to_epoch
from platform_node.institutions.errors import InvalidInstitution, NoAgreement, UnknownInstitution
from platform_node.institutions.schema import agreements, institutions

_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,127}")


class AgreementScope(StrEnum):
    """Services that need a data-security agreement on record."""

    BULK_SCORING = "BULK_SCORING"
    PUBLIC_REPORTS = "PUBLIC_REPORTS"
    SUBSCRIPTIONS = "SUBSCRIPTIONS"


@dataclass(frozen=True)
class Agreement:
    """One signed agreement as recorded: its paper reference, scopes and term [not_before, not_after)."""

    id: str
    institution_id: str
    scopes: frozenset[AgreementScope]
    reference: str
    not_before: datetime
    not_after: datetime
    recorded_at: datetime

    def covers(self, scope: AgreementScope, at: datetime) -> bool:
        return scope in self.scopes and self.not_before <= at < self.not_after


class AgreementBook:
    """Records agreements and answers whether one is in force; `require` raises instead of returning False."""

    def __init__(self, engine: Engine, *, randbytes: Callable[[int], bytes] = os.urandom) -> None:
        self._engine, self._randbytes = engine, randbytes

    def record(
        self,
        institution_id: str,
        *,
        scopes: Collection[AgreementScope | str],
        reference: str,
        not_before: datetime,
        not_after: datetime,
        now: datetime,
    ) -> Agreement:
        try:
            chosen = frozenset(AgreementScope(s) for s in scopes)
        except ValueError:
            raise InvalidInstitution(f"unknown agreement scope: one of {', '.join(AgreementScope)}") from None
        if not chosen:
            raise InvalidInstitution("an agreement needs at least one scope")
        if not isinstance(reference, str) or not _REFERENCE.fullmatch(reference):
            raise InvalidInstitution("agreement reference must be a short token (letters, digits, . _ / -)")
        if not not_before < not_after:
            raise InvalidInstitution("agreement term is empty: not_before must precede not_after")
        ident = "agr-" + self._randbytes(8).hex()
        with self._engine.begin() as conn:
            if conn.execute(select(institutions.c.id).where(institutions.c.id == institution_id)).first() is None:
                raise UnknownInstitution(institution_id)
            conn.execute(
                insert(agreements).values(
                    id=ident, institution_id=institution_id, scopes=",".join(sorted(chosen)), reference=reference,
                    not_before=to_epoch(not_before), not_after=to_epoch(not_after), recorded_at=to_epoch(now),
                )
            )
        return Agreement(ident, institution_id, chosen, reference, from_epoch(to_epoch(not_before)),
                         from_epoch(to_epoch(not_after)), from_epoch(to_epoch(now)))

    def list_for(self, institution_id: str) -> list[Agreement]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(agreements).where(agreements.c.institution_id == institution_id).order_by(agreements.c.not_before)
            ).all()
        return [_to_agreement(row) for row in rows]

    def require(self, institution_id: str, scope: AgreementScope, *, now: datetime) -> Agreement:
        """The agreement covering `scope` at `now`; raises `NoAgreement`."""
        moment = to_epoch(now)
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(agreements).where(
                    and_(
                        agreements.c.institution_id == institution_id,
                        agreements.c.not_before <= moment,
                        agreements.c.not_after > moment,
                    )
                )
            ).all()
        for row in rows:
            agreement = _to_agreement(row)
            if agreement.covers(scope, now):
                return agreement
        raise NoAgreement(institution_id, AgreementScope(scope).value)

    def holders(self, scope: AgreementScope, *, now: datetime) -> set[str]:
        """Institutions with an agreement covering `scope` at `now`."""
        moment = to_epoch(now)
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(agreements).where(and_(agreements.c.not_before <= moment, agreements.c.not_after > moment))
            ).all()
        return {row.institution_id for row in rows if AgreementScope(scope).value in row.scopes.split(",")}


def _to_agreement(row) -> Agreement:
    return Agreement(
        id=row.id,
        institution_id=row.institution_id,
        scopes=frozenset(AgreementScope(s) for s in row.scopes.split(",")),
        reference=row.reference,
        not_before=from_epoch(row.not_before),
        not_after=from_epoch(row.not_after),
        recorded_at=from_epoch(row.recorded_at),
    )
