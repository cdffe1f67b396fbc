"""Expansion of the list: an institution or the operator asks a unit to share a data item (what, why, for
which use); the unit accepts (the item enters its catalogue with a condition) or declines with a reason.

    FILED --> ACCEPTED | DECLINED   (both terminal)
Every step is a leaf of the governance log (the request named by the digest of its canonical JSON).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, and_, insert, select, update

from consent.audit.events import AuditEvent, EventKind, sha256_hex
from consent.canonical_json import canonical_json
from consent.governance.catalogue import ITEM_NAME, PARTY, SharingCondition
from consent.governance.categories import reference_categories
from consent.governance.errors import CatalogueError, IllegalApprovalTransition
from consent.governance.registry_schema import expansion_requests, registry_metadata
from consent.governance.store import from_epoch, to_epoch

AuditAppend = Callable[[Connection, AuditEvent], object]
_REQUEST_ID = re.compile(r"^exp-[0-9a-f]{16}$")
MAX_TEXT = 1000


class ExpansionStatus(StrEnum):
    FILED = "FILED"
    ACCEPTED = "ACCEPTED"
    DECLINED = "DECLINED"


@dataclass(frozen=True)
class ExpansionRequest:
    request_id: str
    source: str
    item: str
    category: str
    description: str
    reason: str
    intended_use: str
    requested_by: str
    status: ExpansionStatus
    decision_reason: str
    condition: str
    filed_at: datetime
    decided_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {"request_id": self.request_id, "source": self.source, "item": self.item, "category": self.category,
                "description": self.description, "reason": self.reason, "intended_use": self.intended_use,
                "requested_by": self.requested_by, "status": self.status.value,
                "decision_reason": self.decision_reason, "condition": self.condition,
                "filed_at": self.filed_at.isoformat(),
                "decided_at": None if self.decided_at is None else self.decided_at.isoformat()}


def _text(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise CatalogueError(f"{what} must be non-empty text of at most {MAX_TEXT} characters")
    return value


class ExpansionBook:
    """Expansion requests for every unit (the coordinator's)."""

    def __init__(self, engine: Engine, *, audit: AuditAppend | None = None) -> None:
        self._engine = engine
        self._audit = audit

    def create_schema(self) -> None:
        registry_metadata.create_all(self._engine, tables=[expansion_requests])

    def file(self, *, source: str, item: str, category: str, description: str, reason: str, intended_use: str,
             requested_by: str, now: datetime) -> ExpansionRequest:
        """Record a request for `source` to share `item`; validated, never deduplicated (each is its own ask)."""
        if not PARTY.match(source or "") or not source.startswith("source/"):
            raise CatalogueError("an expansion request names a source unit (source/<name>)")
        if not ITEM_NAME.match(item or ""):
            raise CatalogueError(f"bad item name {item!r}")
        if category not in reference_categories():
            raise CatalogueError(f"unknown data category {category!r}")
        if not PARTY.match(requested_by or ""):
            raise CatalogueError("requested_by must be an identity like bank/icbc-sz")
        values = dict(request_id=f"exp-{uuid.uuid4().hex[:16]}", source=source, item=item, category=category,
                      description=_text(description, "description"), reason=_text(reason, "reason"),
                      intended_use=_text(intended_use, "intended_use"), requested_by=requested_by,
                      status=ExpansionStatus.FILED.value, decision_reason="", condition="", filed_at=to_epoch(now),
                      decided_at=None)
        with self._engine.begin() as conn:
            conn.execute(insert(expansion_requests).values(**values))
            self._leaf(conn, EventKind.EXPANSION_FILED, values, actor=requested_by, now=now)
        return self.get(values["request_id"])

    def decide(self, request_id: str, *, source: str, accept: bool, reason: str, condition: str = "",
               now: datetime) -> ExpansionRequest:
        """The unit's answer. Only the unit asked may answer, and only once; accepting names a condition."""
        request = self.get(request_id)
        if request.source != source:
            raise CatalogueError(f"{request_id} asks {request.source}, not {source}")
        if accept:
            condition = SharingCondition(condition).value
        target = ExpansionStatus.ACCEPTED if accept else ExpansionStatus.DECLINED
        with self._engine.begin() as conn:
            done = conn.execute(update(expansion_requests).where(and_(
                expansion_requests.c.request_id == request_id,
                expansion_requests.c.status == ExpansionStatus.FILED.value)).values(
                status=target.value, decision_reason=_text(reason, "reason"),
                condition=condition if accept else "", decided_at=to_epoch(now)))
            if done.rowcount != 1:
                raise IllegalApprovalTransition(request.status.value, target.value)
            self._leaf(conn, EventKind.EXPANSION_DECIDED, request.to_json(), actor=source, now=now,
                       status_to=target.value)
        return self.get(request_id)

    def get(self, request_id: str) -> ExpansionRequest:
        if not _REQUEST_ID.match(request_id or ""):
            raise CatalogueError(f"no expansion request {request_id!r}")
        with self._engine.connect() as conn:
            row = conn.execute(select(expansion_requests).where(expansion_requests.c.request_id == request_id)).first()
        if row is None:
            raise CatalogueError(f"no expansion request {request_id!r}")
        return _to_request(row)

    def list(self, *, source: str | None = None, status: ExpansionStatus | None = None) -> list[ExpansionRequest]:
        query = select(expansion_requests).order_by(expansion_requests.c.filed_at, expansion_requests.c.request_id)
        if source is not None:
            query = query.where(expansion_requests.c.source == source)
        if status is not None:
            query = query.where(expansion_requests.c.status == ExpansionStatus(status).value)
        with self._engine.connect() as conn:
            return [_to_request(row) for row in conn.execute(query).all()]

    def _leaf(self, conn: Connection, kind: EventKind, content: dict, *, actor: str, now: datetime,
              status_to: str | None = None) -> None:
        if self._audit is not None:
            body = {k: v for k, v in content.items() if k in ("request_id", "source", "item", "category",
                                                              "description", "reason", "intended_use",
                                                              "requested_by")}
            self._audit(conn, AuditEvent(kind=kind, occurred_at=now, source_unit=content["source"], actor=actor,
                                         status_to=status_to,
                                         digests={"request": sha256_hex(canonical_json(body))}))


def _to_request(row) -> ExpansionRequest:
    return ExpansionRequest(row.request_id, row.source, row.item, row.category, row.description, row.reason,
                            row.intended_use, row.requested_by, ExpansionStatus(row.status), row.decision_reason,
                            row.condition, from_epoch(row.filed_at),
                            None if row.decided_at is None else from_epoch(row.decided_at))
