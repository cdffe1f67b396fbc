"""A source node's own store of approvals: requests, signed approvals, status changes and quota counters.

SQLAlchemy Core, SQLite by default, PostgreSQL through the same code. Status changes are compare-and-set on
the previous status inside a transaction that writes first (SQLite's write lock, PostgreSQL's row lock), so
of two concurrent writers exactly one moves a state. Quota counting is one conditional UPDATE
(`used + n <= limit`), exact under any number of concurrent callers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Engine, and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from consent.authorisation.codec import parse_canonical
from consent.canonical_json import canonical_json
from consent.governance.approval import ApprovalTerms, SignedApproval
from consent.governance.errors import (
    ApprovalRefused,
    InvalidApproval,
    RefusalCode,
    StaleApprovalStatus,
    UnknownApproval,
)
from consent.governance.lifecycle import ApprovalStatus, ApprovalTransition, check_transition
from consent.governance.schema import approval_transitions, approvals, governance_metadata, quota_usage

QUOTA_KINDS = ("rows", "queries")
Listener = Callable[[str, ApprovalStatus], None]


def to_epoch(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise InvalidApproval("naive datetime: pass an aware (UTC) datetime")
    return int(moment.timestamp())


def from_epoch(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@dataclass(frozen=True)
class ApprovalRecord:
    """An approval as the node holds it: its terms, status and (once approved) the signed artefact."""

    approval_id: str
    terms: ApprovalTerms
    status: ApprovalStatus
    signed: SignedApproval | None
    created_at: datetime
    updated_at: datetime

    def to_json(self) -> dict:
        return {"approval_id": self.approval_id, "status": self.status.value, "terms": self.terms.to_json(),
                "signed": None if self.signed is None else self.signed.to_json(),
                "created_at": self.created_at.isoformat(), "updated_at": self.updated_at.isoformat()}


class ApprovalStore:
    """Approvals of ONE source unit, checked against that unit's approval public key."""

    def __init__(self, engine: Engine, *, source: str, approval_key: Ed25519PublicKey) -> None:
        self._engine = engine
        self.source = source
        self.approval_key = approval_key
        self._listeners: list[Listener] = []
        self._listeners_lock = threading.Lock()

    def create_schema(self) -> None:
        governance_metadata.create_all(self._engine)

    def add_listener(self, listener: Listener) -> None:
        """`listener(approval_id, status)` runs after every committed status change (cache invalidation)."""
        with self._listeners_lock:
            self._listeners.append(listener)

    def _notify(self, approval_id: str, status: ApprovalStatus) -> None:
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(approval_id, status)

    # ---- requests and decisions ----------------------------------------------------------------

    def file_request(self, terms: ApprovalTerms, *, actor: str, now: datetime) -> ApprovalRecord:
        """Store a request as REQUESTED. Filing the same terms again returns the stored record unchanged."""
        if terms.source != self.source:
            raise InvalidApproval(f"the request is for {terms.source}, not for this node ({self.source})")
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(approvals).values(
                    approval_id=terms.approval_id, project=terms.project, terms=canonical_json(terms.to_json()),
                    payload=None, signature=None, status=ApprovalStatus.REQUESTED.value,
                    created_at=to_epoch(now), updated_at=to_epoch(now)))
                self._record(conn, ApprovalTransition(terms.approval_id, None, ApprovalStatus.REQUESTED, actor,
                                                      "filed", now))
        except IntegrityError:
            pass  # already filed: the same terms are the same request
        return self.get(terms.approval_id)

    def approve(self, signed: SignedApproval, *, actor: str, now: datetime) -> ApprovalRecord:
        """Record the administrator's signed approval of a filed request (REQUESTED -> APPROVED).

        Raises `BadApprovalSignature` for an artefact this unit's key did not sign, `UnknownApproval` if no
        such request was filed, `IllegalApprovalTransition` if it is no longer REQUESTED.
        """
        terms = signed.verify_with(self.approval_key)
        if terms.source != self.source:
            raise InvalidApproval(f"the approval is for {terms.source}, not for this node ({self.source})")
        record = self._move(terms.approval_id, ApprovalStatus.APPROVED, actor=actor, reason="approved", now=now,
                            signed=signed)
        return record

    def transition(self, approval_id: str, target: ApprovalStatus, *, actor: str, reason: str, now: datetime
                   ) -> ApprovalRecord:
        """Decline, suspend, resume (SUSPENDED -> APPROVED) or revoke. Approving a request needs `approve`."""
        target = ApprovalStatus(target)
        if target is ApprovalStatus.APPROVED and self.get(approval_id).status is ApprovalStatus.REQUESTED:
            raise InvalidApproval("approving a request needs the administrator's signature (approve)")
        return self._move(approval_id, target, actor=actor, reason=reason, now=now)

    def _move(self, approval_id: str, target: ApprovalStatus, *, actor: str, reason: str, now: datetime,
              signed: SignedApproval | None = None) -> ApprovalRecord:
        if len(reason) > 200:
            raise InvalidApproval("a reason is at most 200 characters")
        with self._engine.begin() as conn:
            # Write first, so concurrent writers queue on the lock instead of both reading the old status.
            touched = conn.execute(update(approvals).where(approvals.c.approval_id == approval_id)
                                   .values(updated_at=approvals.c.updated_at))
            if touched.rowcount != 1:
                raise UnknownApproval(approval_id)
            current = ApprovalStatus(conn.execute(select(approvals.c.status)
                                                  .where(approvals.c.approval_id == approval_id)).scalar_one())
            check_transition(current, target)
            values: dict = {"status": target.value, "updated_at": to_epoch(now)}
            if signed is not None:
                values.update(payload=signed.payload, signature=signed.signature)
            done = conn.execute(update(approvals).where(and_(approvals.c.approval_id == approval_id,
                                                             approvals.c.status == current.value)).values(**values))
            if done.rowcount != 1:
                raise StaleApprovalStatus(approval_id)
            if signed is not None:
                for kind in QUOTA_KINDS:
                    conn.execute(insert(quota_usage).values(approval_id=approval_id, kind=kind, used=0))
            self._record(conn, ApprovalTransition(approval_id, current, target, actor, reason, now))
        self._notify(approval_id, target)
        return self.get(approval_id)

    def _record(self, conn, change: ApprovalTransition) -> None:
        conn.execute(insert(approval_transitions).values(
            approval_id=change.approval_id, source=None if change.source is None else change.source.value,
            target=change.target.value, actor=change.actor, reason=change.reason, at=to_epoch(change.at)))

    # ---- reading -------------------------------------------------------------------------------

    def get(self, approval_id: str) -> ApprovalRecord:
        """The stored approval; raises `UnknownApproval`."""
        with self._engine.connect() as conn:
            row = conn.execute(select(approvals).where(approvals.c.approval_id == approval_id)).first()
        if row is None:
            raise UnknownApproval(approval_id)
        return _to_record(row)

    def list(self, *, status: ApprovalStatus | None = None, project: str | None = None, limit: int | None = None,
             offset: int = 0) -> list[ApprovalRecord]:
        """Approvals matching the filters, oldest first; with `limit`, one page of them from `offset`."""
        query = select(approvals).order_by(approvals.c.created_at, approvals.c.approval_id)
        if status is not None:
            query = query.where(approvals.c.status == ApprovalStatus(status).value)
        if project is not None:
            query = query.where(approvals.c.project == project)
        if limit is not None:
            query = query.limit(limit).offset(max(0, offset))
        with self._engine.connect() as conn:
            return [_to_record(row) for row in conn.execute(query).all()]

    def count(self, *, status: ApprovalStatus | None = None) -> int:
        """How many approvals have `status` (all of them when None)."""
        query = select(func.count()).select_from(approvals)
        if status is not None:
            query = query.where(approvals.c.status == ApprovalStatus(status).value)
        with self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def history(self, approval_id: str) -> list[ApprovalTransition]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(approval_transitions).where(approval_transitions.c.approval_id == approval_id)
                                .order_by(approval_transitions.c.seq)).all()
        return [ApprovalTransition(r.approval_id, None if r.source is None else ApprovalStatus(r.source),
                                   ApprovalStatus(r.target), r.actor, r.reason, from_epoch(r.at)) for r in rows]

    # ---- quotas --------------------------------------------------------------------------------

    def consume(self, approval_id: str, kind: str, amount: int, limit: int) -> int:
        """Count `amount` against the approval's `kind` quota of `limit`; returns the new total.

        Raises `ApprovalRefused(QUOTA_EXCEEDED)` (counting nothing) if the total would pass `limit`.
        """
        if kind not in QUOTA_KINDS or amount < 0:
            raise ValueError(f"quota kind must be one of {QUOTA_KINDS} and the amount non-negative")
        where = and_(quota_usage.c.approval_id == approval_id, quota_usage.c.kind == kind)
        with self._engine.begin() as conn:
            done = conn.execute(update(quota_usage).where(and_(where, quota_usage.c.used + amount <= limit))
                                .values(used=quota_usage.c.used + amount))
            if done.rowcount == 1:
                return int(conn.execute(select(quota_usage.c.used).where(where)).scalar_one())
            used = conn.execute(select(quota_usage.c.used).where(where)).scalar_one_or_none()
        if used is None:
            raise ApprovalRefused(RefusalCode.APPROVAL_MISSING, f"{approval_id} has no quota (never approved)")
        raise ApprovalRefused(RefusalCode.QUOTA_EXCEEDED,
                              f"{kind} quota of {approval_id}: {used} used of {limit}, {amount} more asked")

    def release(self, approval_id: str, kind: str, amount: int) -> None:
        """Give back `amount` counted but not used (an unused lease at shutdown)."""
        where = and_(quota_usage.c.approval_id == approval_id, quota_usage.c.kind == kind,
                     quota_usage.c.used >= amount)
        with self._engine.begin() as conn:
            conn.execute(update(quota_usage).where(where).values(used=quota_usage.c.used - amount))

    def used(self, approval_id: str) -> dict[str, int]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(quota_usage.c.kind, quota_usage.c.used)
                                .where(quota_usage.c.approval_id == approval_id)).all()
        return {kind: 0 for kind in QUOTA_KINDS} | {r.kind: int(r.used) for r in rows}


def _to_record(row) -> ApprovalRecord:
    terms = ApprovalTerms.from_json(parse_canonical(bytes(row.terms)))
    signed = None if row.payload is None else SignedApproval(bytes(row.payload), bytes(row.signature))
    return ApprovalRecord(row.approval_id, terms, ApprovalStatus(row.status), signed, from_epoch(row.created_at),
                          from_epoch(row.updated_at))
