"""The compliance officer's checks and listings over the registry's database (the `xyd audit` library).

Reads the consent tables and the audit log directly (read-only, except that an export is itself logged as an
`audit_export` leaf). Checks raise the typed errors of `consent.audit` / `consent.merkle`: a signature or
quorum failure (`SignatureError`, `QuorumError`), an inconsistent chain (`ProofError`), edited rows
(`LogTamperedError`), or a cross-check gap (`MissingUsesError`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, MetaData, Table, and_, inspect, select

from consent.audit import (
    AuditEvent,
    AuditLog,
    Checkpoint,
    CosignatureVerifier,
    CrossCheckReport,
    Ed25519Verifier,
    EventKind,
    LeafReceipt,
    LocalUseLog,
    cross_check,
    parse_note,
    verify_checkpoint,
    verify_log_against_checkpoint,
)
from consent.authorisation import AuthorisationStore, EnterpriseKeyRegistry, NoAudit, Status
from consent.authorisation.schema import from_epoch, to_epoch
from consent.merkle import RootMismatchError, verify_consistency

USE_KINDS = (
    EventKind.VERIFICATION_ANSWERED, EventKind.RAW_DETAIL_SERVED, EventKind.SCORE_SERVED, EventKind.MODEL_TRAINED,
    EventKind.FEEDBACK_RECEIVED, EventKind.ALERT_PUSHED, EventKind.AUDIT_EXPORT,
)
USES_TABLE = "platform_uses"


@dataclass(frozen=True)
class LogTrust:
    """What a verifier needs to accept the registry's checkpoints: the log key, witness keys, the quorum."""

    log: Ed25519Verifier
    witnesses: tuple[CosignatureVerifier, ...] = ()
    quorum: int = 0


@dataclass(frozen=True)
class ChainLink:
    """One checkpoint of the chain as checked: its size and root, and who cosigned it (when keys were given)."""

    size: int
    root: bytes
    cosigners: tuple[str, ...] | None


@dataclass(frozen=True)
class ChainReport:
    links: tuple[ChainLink, ...]
    rows_checked: int


def open_store(engine: Engine) -> AuthorisationStore:
    """The authorisation store for reading (writes through it would not be logged)."""
    return AuthorisationStore(engine, keys=EnterpriseKeyRegistry(engine), audit=NoAudit())


def _checkpoint(note: str, trust: LogTrust | None, *, quorum: int = 0) -> ChainLink:
    if trust is None:
        checkpoint = Checkpoint.from_body(parse_note(note).text)
        return ChainLink(checkpoint.size, checkpoint.root, None)
    verified = verify_checkpoint(note, trust.log, witnesses=trust.witnesses, quorum=quorum)
    return ChainLink(verified.checkpoint.size, verified.checkpoint.root, tuple(n for n, _ in verified.cosigners))


def verify_chain(log: AuditLog, *, trust: LogTrust | None = None, saved: Sequence[str] = (),
                 check_rows: bool = True) -> ChainReport:
    """Check every recorded checkpoint (and any the officer `saved`): the log's signature on each (with
    `trust`), the witness quorum on the largest (earlier ones are bound to it by consistency proofs, and the
    witness set may have grown since), each consistent with the one before, the stored rows against the
    largest."""
    notes = [*log.checkpoints(), *saved]
    links = sorted((_checkpoint(note, trust) for note in notes), key=lambda c: c.size)
    if trust is not None and links:
        largest = max(notes, key=lambda n: Checkpoint.from_body(parse_note(n).text).size)
        _checkpoint(largest, trust, quorum=trust.quorum)
    rows = 0
    # The stored rows first: a rewritten row is then reported as such (LogTamperedError) whichever
    # checkpoints happen to exist, not as a consistency proof that fails because it was built from that row.
    if check_rows and links:
        latest = links[-1]
        verify_log_against_checkpoint(log, Checkpoint(log_origin_of(log, trust), latest.size, latest.root))
        rows = latest.size
    for previous, current in zip(links, links[1:], strict=False):
        if previous.size == current.size:
            if previous.root != current.root:
                raise RootMismatchError(previous.root, current.root)
        elif previous.size > 0:
            proof = log.consistency_proof(previous.size, current.size)
            verify_consistency(previous.size, current.size, previous.root, current.root, proof)
    return ChainReport(tuple(links), rows)


def log_origin_of(log: AuditLog, trust: LogTrust | None) -> str:
    if trust is not None:
        return trust.log.name
    note = log.latest_checkpoint()
    return "unknown" if note is None else Checkpoint.from_body(parse_note(note).text).origin


def cross_check_source(log: AuditLog, source_db: Engine, *, source: str, trust: LogTrust | None = None
                       ) -> CrossCheckReport:
    """Compare a source node's own use log with the registry's, proving inclusion under the latest
    checkpoint (verified with `trust` when given)."""
    note = log.latest_checkpoint()
    checkpoint = None
    if note is not None:
        link = _checkpoint(note, trust, quorum=0 if trust is None else trust.quorum)
        checkpoint = Checkpoint(log_origin_of(log, trust), link.size, link.root)
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
