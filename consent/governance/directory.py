"""The coordinator's view of every unit's approvals: requests as the operator filed them, and each status as the
unit reported it (an APPROVED report carries the unit's signature, checked with the unit's published approval
key). The source node's own store decides; this directory is what the coordinator and the platform see."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from consent.audit.events import AuditEvent, EventKind
from consent.authorisation.codec import parse_canonical
from consent.canonical_json import canonical_json
from consent.governance.approval import ApprovalTerms, SignedApproval
from consent.governance.errors import InvalidApproval, UnknownApproval
from consent.governance.lifecycle import ApprovalStatus
from consent.governance.registry_schema import approval_directory, registry_metadata
from consent.governance.store import from_epoch, to_epoch

AuditAppend = Callable[[Connection, AuditEvent], object]


@dataclass(frozen=True)
class DirectoryEntry:
    approval_id: str
    source: str
    project: str
    terms: ApprovalTerms
    status: ApprovalStatus
    signed: SignedApproval | None
    reason: str
    filed_by: str
    updated_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"approval_id": self.approval_id, "source": self.source, "project": self.project,
                "status": self.status.value, "reason": self.reason, "filed_by": self.filed_by,
                "updated_at": self.updated_at.isoformat(), "terms": self.terms.to_json()}


class ApprovalDirectory:
    def __init__(self, engine: Engine, *, audit: AuditAppend | None = None) -> None:
        self._engine = engine
        self._audit = audit

    def create_schema(self) -> None:
        registry_metadata.create_all(self._engine, tables=[approval_directory])

    def file(self, terms: ApprovalTerms, *, filed_by: str, now: datetime) -> DirectoryEntry:
        """A request as the operator files it (REQUESTED); the same terms again return the entry unchanged."""
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(approval_directory).values(
                    approval_id=terms.approval_id, source=terms.source, project=terms.project,
                    terms=canonical_json(terms.to_json()), signed=None, status=ApprovalStatus.REQUESTED.value,
                    reason="", filed_by=filed_by, updated_at=to_epoch(now)))
                if self._audit is not None:
                    self._audit(conn, AuditEvent(kind=EventKind.APPROVAL_FILED, occurred_at=now,
                                                 approval_id=terms.approval_id, source_unit=terms.source,
                                                 actor=filed_by))
        except IntegrityError:
            pass
        return self.get(terms.approval_id)

    def report(self, approval_id: str, status: ApprovalStatus, *, source: str, reason: str, now: datetime,
               signed: SignedApproval | None = None, approval_key: Ed25519PublicKey | None = None) -> DirectoryEntry:
        """The unit `source` reports a status. Only the unit the approval is for may report; an APPROVED report
        must carry the unit's signature over the filed terms (checked when the unit's key is known)."""
        entry = self.get(approval_id)
        if entry.source != source:
            raise InvalidApproval(f"{approval_id} is for {entry.source}, not {source}")
        status = ApprovalStatus(status)
        if signed is not None:
            terms = signed.verify_with(approval_key) if approval_key is not None else signed.terms
            if terms.approval_id != approval_id:
                raise InvalidApproval("the signed approval is for other terms")
        values: dict[str, Any] = {"status": status.value, "reason": reason[:200], "updated_at": to_epoch(now)}
        if signed is not None:
            values["signed"] = json.dumps(signed.to_json(), sort_keys=True)
        with self._engine.begin() as conn:
            conn.execute(update(approval_directory).where(approval_directory.c.approval_id == approval_id)
                         .values(**values))
            if self._audit is not None and status is not entry.status:
                self._audit(conn, AuditEvent(kind=EventKind.APPROVAL_STATUS_CHANGED, occurred_at=now,
                                             approval_id=approval_id, source_unit=source, actor=source,
                                             status_from=entry.status.value, status_to=status.value))
        return self.get(approval_id)

    def get(self, approval_id: str) -> DirectoryEntry:
        with self._engine.connect() as conn:
            row = conn.execute(select(approval_directory)
                               .where(approval_directory.c.approval_id == approval_id)).first()
        if row is None:
            raise UnknownApproval(approval_id)
        return _entry(row)

    def list(self, *, source: str | None = None, project: str | None = None,
             status: ApprovalStatus | None = None) -> list[DirectoryEntry]:
        query = select(approval_directory).order_by(approval_directory.c.updated_at, approval_directory.c.approval_id)
        if source:
            query = query.where(approval_directory.c.source == source)
        if project:
            query = query.where(approval_directory.c.project == project)
        if status:
            query = query.where(approval_directory.c.status == ApprovalStatus(status).value)
        with self._engine.connect() as conn:
            return [_entry(row) for row in conn.execute(query).all()]


def _entry(row) -> DirectoryEntry:
    signed = None if row.signed is None else SignedApproval.from_json(json.loads(row.signed))
    return DirectoryEntry(row.approval_id, row.source, row.project,
                          ApprovalTerms.from_json(parse_canonical(bytes(row.terms))), ApprovalStatus(row.status),
                          signed, row.reason, row.filed_by, from_epoch(row.updated_at))
