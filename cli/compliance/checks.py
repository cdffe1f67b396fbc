"""The compliance officer's checks and listings over the registry's database (the `xyd audit` library).

Reads the consent tables and the audit log directly (read-only, except that an export is itself logged as an
`audit_export` leaf). Checks raise the typed errors of `consent.audit` / `consent.merkle`: a signature or
quorum failure (`SignatureError`, `QuorumError`), edited rows (`LogTamperedError`), a log truncated, rolled
back or forked behind a checkpoint someone else holds (`LogTruncatedError`, `LogRolledBackError`,
`LogForkedError`), too few witnesses answering (`WitnessesUnavailableError`), a bad receipt (`ProofError`),
or a cross-check gap (`MissingUsesError`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Engine, MetaData, Table, and_, inspect, select

from consent.audit import (
    AuditEvent,
    AuditLog,
    CrossCheckReport,
    EventKind,
    HistoryReport,
    InclusionReceipt,
    LeafReceipt,
    LocalUseLog,
    LogTrust,
    WitnessAnswer,
    cross_check,
    verify_checkpoint,
    verify_history,
)
from consent.authorisation import AuthorisationStore, EnterpriseKeyRegistry, NoAudit, Status
from consent.authorisation.schema import from_epoch, to_epoch

USE_KINDS = (
    EventKind.VERIFICATION_ANSWERED, EventKind.RAW_DETAIL_SERVED, EventKind.SCORE_SERVED, EventKind.MODEL_TRAINED,
    EventKind.FEEDBACK_RECEIVED, EventKind.ALERT_PUSHED, EventKind.AUDIT_EXPORT,
)
USES_TABLE = "platform_uses"

__all__ = [
    "USE_KINDS", "LogTrust", "cross_check_source", "list_authorisations", "list_uses", "open_store",
    "overdue_uses", "record_export", "verify_chain",
]


def open_store(engine: Engine) -> AuthorisationStore:
    """The authorisation store for reading (writes through it would not be logged)."""
    return AuthorisationStore(engine, keys=EnterpriseKeyRegistry(engine), audit=NoAudit())


def verify_chain(log: AuditLog, *, trust: LogTrust, witness_answers: Sequence[WitnessAnswer] | None,
                 receipts: Sequence[tuple[str, InclusionReceipt]] = (), saved: Sequence[tuple[str, str]] = (),
                 last_verified: str | None = None, check_rows: bool = True, now: datetime | None = None,
                 max_age: timedelta | None = None) -> HistoryReport:
    """Check the stored log against every checkpoint: its own (log signature, witness quorum on the newest,
    the stored rows), each witness's latest cosigned one, banks' receipts, the officer's saved notes and
    last verified checkpoint; each must be a prefix of the stored log (see `consent.audit.verify_history`).
    `witness_answers=None` means the witnesses were deliberately not asked."""
    return verify_history(log, trust, witness_answers=witness_answers, receipts=receipts, saved=saved,
                          last_verified=last_verified, check_rows=check_rows, now=now, max_age=max_age)


def cross_check_source(log: AuditLog, source_db: Engine, *, source: str, trust: LogTrust) -> CrossCheckReport:
    """Compare a source node's own use log with the registry's, proving inclusion under the latest
    checkpoint (its log signature and witness quorum verified with `trust`)."""
    note = log.latest_checkpoint()
    checkpoint = None
    if note is not None:
        checkpoint = verify_checkpoint(note, trust.log, witnesses=trust.witnesses, quorum=trust.quorum).checkpoint
    return cross_check(log, LocalUseLog(source_db).entries(), checkpoint=checkpoint, source_unit=source)


def list_authorisations(
    engine: Engine, *, enterprise: str | None = None, institution: str | None = None, source: str | None = None,
    status: Status | None = None, since: datetime | None = None, until: datetime | None = None,
) -> list[dict[str, object]]:
    """Authorisations matching every given filter; the period applies to registration time [since, until)."""
    rows = []
    for record in open_store(engine).find(credit_code=enterprise, grantee=institution, status=status):
        terms = record.terms
        if source is not None and source not in terms.providers:
            continue
        if (since is not None and record.registered_at < since) or (until is not None and record.registered_at >= until):
            continue
        rows.append({
            "authorisation_id": terms.id, "enterprise": terms.subject.credit_code, "grantee": terms.grantee,
            "providers": " ".join(terms.providers), "mode": terms.mode.value, "purpose": terms.purpose.value,
            "status": record.status.value, "not_before": terms.not_before.isoformat(),
            "not_after": terms.not_after.isoformat(), "max_uses": terms.max_uses,
            "registered_at": record.registered_at.isoformat(),
        })
    return rows


def list_uses(
    log: AuditLog, engine: Engine, *, enterprise: str | None = None, institution: str | None = None,
    source: str | None = None, authorisation: str | None = None, kinds: Collection[EventKind] = USE_KINDS,
    since: datetime | None = None, until: datetime | None = None,
) -> list[dict[str, object]]:
    """Logged uses matching every filter. Leaves never hold credit codes: an enterprise is matched through
    the authorisations it signed."""
    wanted = None
    if enterprise is not None:
        wanted = {r.terms.id for r in open_store(engine).find(credit_code=enterprise)}
    rows = []
    for stored in log.find(kinds=kinds, authorisation_id=authorisation, institution=institution,
                           source_unit=source, since=since, until=until):
        event = stored.event
        if wanted is not None and event.authorisation_id not in wanted:
            continue
        rows.append({
            "index": stored.index, "at": event.occurred_at.isoformat(), "kind": event.kind.value,
            "authorisation_id": event.authorisation_id or "", "use_id": event.use_id or "",
            "institution": event.institution or "", "source_unit": event.source_unit or "",
            "reason_code": event.reason_code or "", "purpose": event.purpose or "",
        })
    return rows


def overdue_uses(engine: Engine, *, now: datetime) -> list[dict[str, object]] | None:
    """Uses whose outcome feedback is past due (no decision reported by `feedback_due_at`), oldest first;
    None if this database has no uses table (feedback is tracked elsewhere or not at all)."""
    if not inspect(engine).has_table(USES_TABLE):
        return None
    uses = Table(USES_TABLE, MetaData(), autoload_with=engine)
    needed = {"id", "institution_id", "kind", "created_at", "feedback_due_at", "decision"}
    if not needed <= set(uses.c.keys()):
        return None
    query = (
        select(uses.c.id, uses.c.kind, uses.c.institution_id, uses.c.created_at, uses.c.feedback_due_at)
        .where(and_(uses.c.decision.is_(None), uses.c.feedback_due_at.is_not(None),
                    uses.c.feedback_due_at < to_epoch(now)))
        .order_by(uses.c.feedback_due_at, uses.c.id)
    )
    with engine.connect() as conn:
        return [
            {"use_id": row.id, "kind": row.kind, "institution": row.institution_id,
             "used_at": from_epoch(row.created_at).isoformat(), "feedback_due_at": from_epoch(row.feedback_due_at).isoformat(),
             "days_overdue": (to_epoch(now) - row.feedback_due_at) // 86_400}
            for row in conn.execute(query)
        ]


def record_export(log: AuditLog, *, actor: str, report_sha256: str, now: datetime) -> LeafReceipt:
    """Log an export of audit data as an `audit_export` leaf (who, when, a digest of what was exported)."""
    event = AuditEvent(kind=EventKind.AUDIT_EXPORT, occurred_at=now, actor=actor, digests={"report": report_sha256})
    with log.engine.begin() as conn:
        return log.append(conn, event)
