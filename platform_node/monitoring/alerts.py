"""Risk alerts for the lending bank: stored, logged as an `ALERT_PUSHED` leaf and queued for the webhook,
all in one transaction. Reads are scoped to the owning institution (another bank's alert is not found)."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, insert, select

from consent.audit.events import AuditEvent, EventKind, keyed_ref
from consent.audit.log import AuditLog, LeafReceipt
from consent.authorisation.codec import format_time
from consent.authorisation.schema import from_epoch, to_epoch
from errors import NotFound
from platform_node.monitoring.delivery import WebhookOutbox
from platform_node.monitoring.deterioration import Deterioration
from platform_node.monitoring.schema import alerts

ALERT_EVENT = "alert.created"


class AlertNotFound(NotFound):
    def __init__(self, alert_id: str) -> None:
        super().__init__(f"no alert {alert_id!r}")
        self.alert_id = alert_id


@dataclass(frozen=True)
class Alert:
    id: str
    institution_id: str
    use_id: str
    credit_code: str
    loan_application_ref: str
    authorisation_id: str
    kind: str
    previous_score: int
    previous_grade: str
    score: int
    grade: str
    reason_codes: tuple[str, ...]
    model_id: str
    model_version: str
    trigger: str
    created_at: datetime
    audit_index: int


def alert_payload(alert: Alert) -> dict[str, Any]:
    """The public JSON form of an alert: the webhook body and the `GET /v1/alerts` item."""
    return {
        "alert_id": alert.id,
        "use_id": alert.use_id,
        "credit_code": alert.credit_code,
        "loan_application_ref": alert.loan_application_ref,
        "authorisation_id": alert.authorisation_id,
        "kind": alert.kind,
        "previous_score": alert.previous_score,
        "previous_grade": alert.previous_grade,
        "score": alert.score,
        "grade": alert.grade,
        "reason_codes": list(alert.reason_codes),
        "model_id": alert.model_id,
        "model_version": alert.model_version,
        "trigger": alert.trigger,
        "created_at": format_time(alert.created_at),
        "audit_index": alert.audit_index,
    }


@dataclass(frozen=True)
class NewAlert:
    """What the sweep found for one loan."""

    institution_id: str
    use_id: str
    credit_code: str
    loan_application_ref: str
    authorisation_id: str
    deterioration: Deterioration
    previous_score: int
    previous_grade: str
    score: int
    grade: str
    reason_codes: tuple[str, ...]
    model_id: str
    model_version: str
    trigger: str


class AlertBook:
    def __init__(self, engine: Engine, audit: AuditLog, outbox: WebhookOutbox, *, subject_ref_key: bytes,
                 randbytes: Callable[[int], bytes] = os.urandom) -> None:
        self._engine, self._audit, self._outbox = engine, audit, outbox
        self._key, self._randbytes = subject_ref_key, randbytes

    def create(self, conn: Connection, new: NewAlert, *, now: datetime) -> tuple[Alert, LeafReceipt]:
        """Store the alert, append its leaf and queue its webhook inside the caller's transaction."""
        alert_id = "alr-" + self._randbytes(8).hex()
        draft = Alert(alert_id, new.institution_id, new.use_id, new.credit_code, new.loan_application_ref,
                      new.authorisation_id, new.deterioration.kind.value, new.previous_score, new.previous_grade,
                      new.score, new.grade, tuple(new.reason_codes), new.model_id, new.model_version, new.trigger,
                      from_epoch(to_epoch(now)), -1)
        receipt = self._audit.append(
            conn,
            AuditEvent(
                kind=EventKind.ALERT_PUSHED, occurred_at=now, authorisation_id=new.authorisation_id,
                use_id=new.use_id, institution=new.institution_id, model_id=f"{new.model_id}:{new.model_version}",
                reason_code=new.deterioration.kind.value, subject_ref=keyed_ref(self._key, new.credit_code),
                digests={"alert": alert_digest(draft)},
            ),
        )
        alert = replace(draft, audit_index=receipt.index)
        conn.execute(
            insert(alerts).values(
                id=alert.id, institution_id=alert.institution_id, use_id=alert.use_id, credit_code=alert.credit_code,
                loan_application_ref=alert.loan_application_ref, authorisation_id=alert.authorisation_id,
                kind=alert.kind, previous_score=alert.previous_score, previous_grade=alert.previous_grade,
                score=alert.score, grade=alert.grade, reason_codes=",".join(alert.reason_codes),
                model_id=alert.model_id, model_version=alert.model_version, trigger=alert.trigger,
                created_at=to_epoch(now), audit_index=alert.audit_index,
            )
        )
        self._outbox.enqueue(conn, institution_id=alert.institution_id, event_type=ALERT_EVENT, event_id=alert.id,
                             body=_body(alert), now=now)
        return alert, receipt

    def list_for(self, institution_id: str, *, limit: int = 100, since: datetime | None = None) -> list[Alert]:
        query = (
            select(alerts).where(alerts.c.institution_id == institution_id)
            .order_by(alerts.c.created_at, alerts.c.id).limit(limit)
        )
        if since is not None:
            query = query.where(alerts.c.created_at >= to_epoch(since))
        with self._engine.connect() as conn:
            return [_to_alert(row) for row in conn.execute(query)]

    def get(self, alert_id: str, *, institution_id: str) -> Alert:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(alerts).where(and_(alerts.c.id == alert_id, alerts.c.institution_id == institution_id))
            ).first()
        if row is None:
            raise AlertNotFound(alert_id)
        return _to_alert(row)


def _body(alert: Alert) -> bytes:
    return json.dumps(alert_payload(alert), sort_keys=True, separators=(",", ":")).encode()


def alert_digest(alert: Alert) -> str:
    """The leaf's digest of an alert: SHA-256 of its sorted compact JSON without `audit_index` (which is only
    known once the leaf is appended). The alert id is random, so the digest cannot be reversed by guessing."""
    payload = alert_payload(alert)
    payload.pop("audit_index")
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _to_alert(row) -> Alert:
    return Alert(
        id=row.id, institution_id=row.institution_id, use_id=row.use_id, credit_code=row.credit_code,
        loan_application_ref=row.loan_application_ref, authorisation_id=row.authorisation_id, kind=row.kind,
        previous_score=row.previous_score, previous_grade=row.previous_grade, score=row.score, grade=row.grade,
        reason_codes=tuple(c for c in row.reason_codes.split(",") if c), model_id=row.model_id,
        model_version=row.model_version, trigger=row.trigger, created_at=from_epoch(row.created_at),
        audit_index=row.audit_index,
    )
