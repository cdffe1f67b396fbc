"""Data-use records: one per enterprise asked about, written with its audit leaf in the same transaction.

Each score served becomes a `SCORE` use row and a `SCORE_SERVED` leaf. The leaf carries ids and codes only:
the enterprise as a keyed reference, and a digest of the served result salted with a per-use nonce (the
result itself is low-entropy, so an unsalted hash could be reversed by guessing), which commits the log to
exactly what the bank was told without revealing it.

An enterprise asked about but not scored (unknown to the federation, a source unavailable, ...) becomes an
`UNANSWERED` use row with its failure code and a `REQUEST_REFUSED` leaf naming the use, the institution,
the purpose, the enterprise's keyed reference and the code. So every look-up is on record and counts
against the quota: a bank cannot probe which enterprises the federation knows for free or unseen. An
unanswered use has no feedback deadline and takes no feedback.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, insert, inspect, select, text

from consent.audit.events import AuditEvent, EventKind
from consent.audit.log import AuditLog, LeafReceipt
from consent.audit.prepared import PreparedStatement
from consent.authorisation.schema import from_epoch, to_epoch
from platform_node.scoring.scorer import FailureCode, ScoreFailure, ScoreOutcome, ScoreResult
from platform_node.uses.errors import UseNotFound
from platform_node.uses.schema import feedback_events, use_metadata, uses

_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


class UseKind(StrEnum):
    SCORE = "SCORE"  # a score was served
    UNANSWERED = "UNANSWERED"  # asked about, not scored (`failure_code` says why)


@dataclass(frozen=True)
class UseRecord:
    """A use as stored (the API shows a public subset)."""

    id: str
    kind: UseKind
    institution_id: str
    credit_code: str
    purpose: str
    loan_application_ref: str
    batch_id: str | None
    model_id: str | None
    model_version: str | None
    probability_of_default: float | None
    score: int | None
    grade: str | None
    reason_codes: tuple[str, ...]
    degraded: bool
    missing_sources: tuple[str, ...]
    created_at: datetime
    feedback_due_at: datetime | None
    decision: str | None
    decided_at: datetime | None
    amount_cny: Decimal | None
    annual_rate: Decimal | None
    term_months: int | None
    outcome: str | None
    outcome_at: datetime | None
    audit_index: int
    failure_code: str | None = None
    first_loan: bool | None = None
    secured: bool | None = None

    def overdue(self, now: datetime) -> bool:
        return self.decision is None and self.feedback_due_at is not None and self.feedback_due_at < now


@dataclass(frozen=True)
class PreparedUses:
    """Use rows and their audit events, built and validated, not yet written; `outcomes` are the scorer's
    answers, scores and failures alike, in row order."""

    outcomes: tuple[ScoreResult, ...]
    rows: tuple[dict[str, Any], ...]
    events: tuple[AuditEvent, ...]


@dataclass(frozen=True)
class RecordedUse:
    """What `record_scores` hands back per enterprise: the use id and its leaf receipt."""

    use_id: str
    outcome: ScoreResult
    receipt: LeafReceipt

    @property
    def unknown_enterprise(self) -> bool:
        return isinstance(self.outcome, ScoreFailure) and self.outcome.code is FailureCode.UNKNOWN_ENTERPRISE


def result_digest(use_id: str, outcome: ScoreOutcome, loan_application_ref: str, nonce: bytes) -> str:
    """SHA-256 over the salted served result; compliance recomputes it from the use row."""
    document = {
        "use_id": use_id,
        "credit_code": outcome.credit_code,
        "loan_application_ref": loan_application_ref,
        "probability_of_default": repr(outcome.probability_of_default),
        "score": outcome.score,
        "grade": outcome.grade,
        "reason_codes": list(outcome.reason_codes),
        "model": f"{outcome.model_id}:{outcome.model_version}",
        "degraded": outcome.degraded,
        "nonce": nonce.hex(),
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@functools.lru_cache(maxsize=16)
def _insert_uses(columns: tuple[str, ...]) -> PreparedStatement:
    """The INSERT of use rows with exactly these columns (every row of one call has the same)."""
    return PreparedStatement(insert(uses).values({name: bindparam(name) for name in columns}))


class UseBook:
    """Writes and reads use records; reads by id are scoped to the owning institution."""

    def __init__(
        self,
        engine: Engine,
        audit: AuditLog,
        *,
        subject_ref_key: bytes,
        feedback_deadline: timedelta,
        randbytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self._engine, self._audit, self._key = engine, audit, subject_ref_key
        self._deadline, self._randbytes = feedback_deadline, randbytes

    @property
    def feedback_deadline(self) -> timedelta:
        return self._deadline

    @property
    def engine(self) -> Engine:
        return self._engine

    def create_schema(self) -> None:
        """Create the tables; tables made by an earlier release get the columns added since, null in their
        old rows: `failure_code` (old rows are all scores), `first_loan` and `secured` (not reported)."""
        use_metadata.create_all(self._engine)
        added = {uses.name: (("failure_code", "VARCHAR(32)"), ("first_loan", "BOOLEAN"), ("secured", "BOOLEAN")),
                 feedback_events.name: (("first_loan", "BOOLEAN"), ("secured", "BOOLEAN"))}
        inspector = inspect(self._engine)
        for table, columns in added.items():
            present = {column["name"] for column in inspector.get_columns(table)}
            missing = [(name, kind) for name, kind in columns if name not in present]
            if missing:
                with self._engine.begin() as conn:
                    for name, kind in missing:
                        conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {name} {kind}"))

    def new_id(self, prefix: str) -> str:
        """`prefix-` and 16 random characters: a letter, then 15 of [0-9a-z] (about 82 bits).

        Use ids go into audit leaves, whose rule refuses any id segment shaped like a card or id number; a
        segment of random hex digits is all decimal about once in 1,900 ids, so the first character is
        always a letter.
        """
        value = int.from_bytes(self._randbytes(11), "big")
        value, first = divmod(value, 26)
        rest = []
        for _ in range(15):
            value, digit = divmod(value, 36)
            rest.append(_BASE36[digit])
        return f"{prefix}-{_BASE36[10 + first]}{''.join(rest)}"

    def subject_ref(self, credit_code: str) -> str:
        """The enterprise's keyed reference in leaves (the same value as `consent.audit.keyed_ref`)."""
        return hmac.digest(self._key, credit_code.encode(), "sha256").hex()

    def prepare_scores(
        self,
        *,
        institution_id: str,
        purpose: str,
        loan_application_ref: str,
        outcomes: Sequence[ScoreResult],
        now: datetime,
        batch_id: str | None = None,
    ) -> PreparedUses:
        """Build the use rows and their validated events (`SCORE_SERVED` for a score, `REQUEST_REFUSED` for
        a failure), outside any transaction, so the write transaction (which holds the log's append lock)
        does only the appends and inserts."""
        created, due = to_epoch(now), to_epoch(now + self._deadline)
        rows, events = [], []
        for outcome in outcomes:
            use_id, nonce = self.new_id("use"), self._randbytes(16)
            if isinstance(outcome, ScoreFailure):
                events.append(AuditEvent(
                    kind=EventKind.REQUEST_REFUSED, occurred_at=now, use_id=use_id, institution=institution_id,
                    purpose=purpose, subject_ref=self.subject_ref(outcome.credit_code),
                    reason_code=outcome.code.value,
                ))
                rows.append(_unanswered_row(use_id, institution_id, purpose, loan_application_ref, batch_id,
                                            outcome, nonce, created))
                continue
            events.append(
                AuditEvent(
                    kind=EventKind.SCORE_SERVED, occurred_at=now, use_id=use_id, institution=institution_id,
                    model_id=f"{outcome.model_id}:{outcome.model_version}", purpose=purpose,
                    subject_ref=self.subject_ref(outcome.credit_code),
                    reason_code="DEGRADED" if outcome.degraded else None,
                    digests={"result": result_digest(use_id, outcome, loan_application_ref, nonce)},
                )
            )
            rows.append(
                {
                    "id": use_id, "kind": UseKind.SCORE.value, "institution_id": institution_id,
                    "credit_code": outcome.credit_code, "purpose": purpose,
                    "loan_application_ref": loan_application_ref, "batch_id": batch_id,
                    "model_id": outcome.model_id, "model_version": outcome.model_version,
                    "probability_of_default": outcome.probability_of_default, "score": outcome.score,
                    "grade": outcome.grade, "reason_codes": ",".join(outcome.reason_codes),
                    "degraded": outcome.degraded, "missing_sources": ",".join(outcome.missing_sources),
                    "result_nonce": nonce, "created_at": created, "feedback_due_at": due, "failure_code": None,
                }
            )
        for event in events:
            event.to_leaf()  # the canonical JSON, made here rather than under the log's append lock
        return PreparedUses(tuple(outcomes), tuple(rows), tuple(events))

    def record(self, conn: Connection, prepared: PreparedUses) -> list[RecordedUse]:
        """Append the leaves and insert the use rows inside the caller's transaction."""
        if not prepared.rows:
            return []
        receipts = self._audit.append_many(conn, prepared.events)
        rows = [{**row, "audit_index": receipt.index} for row, receipt in zip(prepared.rows, receipts, strict=True)]
        by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in rows:
            by_columns.setdefault(tuple(row), []).append(row)
        for columns, same in by_columns.items():
            _insert_uses(columns).execute_many(conn, same)
        return [RecordedUse(row["id"], outcome, receipt)
                for row, outcome, receipt in zip(rows, prepared.outcomes, receipts, strict=True)]

    def record_scores(
        self,
        conn: Connection,
        *,
        institution_id: str,
        purpose: str,
        loan_application_ref: str,
        outcomes: Sequence[ScoreResult],
        now: datetime,
        batch_id: str | None = None,
    ) -> list[RecordedUse]:
        """`prepare_scores` then `record`, inside the caller's transaction."""
        prepared = self.prepare_scores(institution_id=institution_id, purpose=purpose,
                                       loan_application_ref=loan_application_ref, outcomes=outcomes, now=now,
                                       batch_id=batch_id)
        return self.record(conn, prepared)

    def get(self, use_id: str, *, institution_id: str | None = None, conn: Connection | None = None) -> UseRecord:
        """The use `use_id`; with `institution_id`, only if that institution owns it (else `UseNotFound`)."""
        query = select(uses).where(uses.c.id == use_id)
        if institution_id is not None:
            query = query.where(uses.c.institution_id == institution_id)
        if conn is not None:
            row = conn.execute(query).first()
        else:
            with self._engine.connect() as own:
                row = own.execute(query).first()
        if row is None:
            raise UseNotFound(use_id)
        return to_use_record(row)

    def list(
        self,
        *,
        institution_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        after: str | None = None,
    ) -> list[UseRecord]:
        """Uses matching the filters, oldest first; `after` continues from a use id (keyset pagination; an id
        that is not among the filtered institution's uses is ignored)."""
        query = select(uses).order_by(uses.c.created_at, uses.c.id).limit(limit)
        conditions = []
        if institution_id is not None:
            conditions.append(uses.c.institution_id == institution_id)
        if since is not None:
            conditions.append(uses.c.created_at >= to_epoch(since))
        if until is not None:
            conditions.append(uses.c.created_at < to_epoch(until))
        with self._engine.connect() as conn:
            if after is not None:
                # The anchor is looked up among the listed institution's own uses only: another
                # institution's use id must behave exactly like one that does not exist.
                anchor_query = select(uses.c.created_at).where(uses.c.id == after)
                if institution_id is not None:
                    anchor_query = anchor_query.where(uses.c.institution_id == institution_id)
                anchor = conn.execute(anchor_query).scalar_one_or_none()
                if anchor is not None:
                    conditions.append(
                        (uses.c.created_at > anchor) | and_(uses.c.created_at == anchor, uses.c.id > after)
                    )
            if conditions:
                query = query.where(and_(*conditions))
            return [to_use_record(row) for row in conn.execute(query)]


def _unanswered_row(use_id: str, institution_id: str, purpose: str, loan_application_ref: str,
                    batch_id: str | None, failure: ScoreFailure, nonce: bytes, created: int) -> dict[str, Any]:
    """The row of a look-up that got no score: the same columns as a score's (one INSERT shape), no result."""
    return {
        "id": use_id, "kind": UseKind.UNANSWERED.value, "institution_id": institution_id,
        "credit_code": failure.credit_code, "purpose": purpose, "loan_application_ref": loan_application_ref,
        "batch_id": batch_id, "model_id": None, "model_version": None, "probability_of_default": None,
        "score": None, "grade": None, "reason_codes": "", "degraded": False,
        "missing_sources": ",".join(failure.failed_sources), "result_nonce": nonce, "created_at": created,
        "feedback_due_at": None, "failure_code": failure.code.value,
    }


def _split(text: str | None) -> tuple[str, ...]:
    return tuple(t for t in (text or "").split(",") if t)


def to_use_record(row) -> UseRecord:
    return UseRecord(
        id=row.id,
        kind=UseKind(row.kind),
        institution_id=row.institution_id,
        credit_code=row.credit_code,
        purpose=row.purpose,
        loan_application_ref=row.loan_application_ref,
        batch_id=row.batch_id,
        model_id=row.model_id,
        model_version=row.model_version,
        probability_of_default=row.probability_of_default,
        score=row.score,
        grade=row.grade,
        reason_codes=_split(row.reason_codes),
        degraded=bool(row.degraded),
        missing_sources=_split(row.missing_sources),
        created_at=from_epoch(row.created_at),
        feedback_due_at=None if row.feedback_due_at is None else from_epoch(row.feedback_due_at),
        decision=row.decision,
        decided_at=None if row.decided_at is None else from_epoch(row.decided_at),
        amount_cny=None if row.amount_fen is None else Decimal(row.amount_fen) / 100,
        annual_rate=None if row.annual_rate is None else Decimal(row.annual_rate),
        term_months=row.term_months,
        outcome=row.outcome,
        outcome_at=None if row.outcome_at is None else from_epoch(row.outcome_at),
        audit_index=row.audit_index,
        failure_code=row.failure_code,
        first_loan=_flag(row, "first_loan"),
        secured=_flag(row, "secured"),
    )


def _flag(row, name: str) -> bool | None:
    value = row._mapping.get(name)
    return None if value is None else bool(value)
