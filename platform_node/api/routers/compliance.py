"""`/v1/compliance/*`: authorisations, uses, overdue feedback, audit checkpoints, proofs and leaves.

Compliance role only. Every export of records (authorisations, uses, overdue list, leaves) is itself an
`AUDIT_EXPORT` leaf naming the officer, with a digest of what was exported, so reading is audited too.
Checkpoints and proofs are not exports (they carry only hashes).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from consent.audit import AuditError, AuditEvent, Checkpoint, EventKind, parse_note, verify_history
from consent.audit.merge import verify_merges
from consent.authorisation import AuthorisationRecord, Status
from consent.authorisation.codec import format_time
from consent.merkle import ProofError
from platform_node.api.deps import ComplianceInstitution, Services
from platform_node.api.errors import ApiError
from platform_node.api.routers.uses import use_out
from platform_node.api.schemas.common import error_responses
from platform_node.api.schemas.compliance import (
    AuthorisationListOut,
    AuthorisationOut,
    CheckpointListOut,
    CheckpointOut,
    ComplianceUseListOut,
    ConsistencyProofOut,
    InclusionProofOut,
    LeafListOut,
    LeafOut,
    LogVerificationOut,
    LookupAlertListOut,
    LookupAlertOut,
    MergedLogOut,
    OverdueInstitutionOut,
    OverdueListOut,
)
from platform_node.api.services import PlatformServices
from platform_node.institutions.model import Institution
from platform_node.uses.deadlines import overdue_institutions
from platform_node.uses.lookup_watch import list_lookup_alerts

router = APIRouter(prefix="/v1/compliance", tags=["compliance"])
_ERRORS = error_responses(401, 403, 422, 429)


def _record_export(services: PlatformServices, officer: Institution, what: str, exported: Any) -> int:
    digest = hashlib.sha256(json.dumps(exported, sort_keys=True, separators=(",", ":"), default=str).encode())
    with services.engine.begin() as conn:
        receipt = services.audit.append(conn, AuditEvent(
            kind=EventKind.AUDIT_EXPORT, occurred_at=services.now(), actor=officer.id, institution=officer.id,
            reason_code=what, digests={"export": digest.hexdigest()},
        ))
    return receipt.index


def authorisation_out(record: AuthorisationRecord) -> AuthorisationOut:
    terms = record.terms
    return AuthorisationOut(
        authorisation_id=terms.id, credit_code=terms.subject.credit_code, grantee=terms.grantee,
        providers=list(terms.providers), categories=[c.name for c in terms.categories], mode=terms.mode.value,
        purpose=terms.purpose.value, loan_application_ref=terms.loan_application_ref, status=record.status.value,
        not_before=format_time(terms.not_before), not_after=format_time(terms.not_after),
        registered_at=format_time(record.registered_at), updated_at=format_time(record.updated_at),
    )


@router.get("/authorisations", response_model=AuthorisationListOut, summary="Authorisations on record",
            responses=_ERRORS)
def list_authorisations(
    officer: ComplianceInstitution, services: Services, credit_code: str | None = None, grantee: str | None = None,
    status: Status | None = None,
) -> AuthorisationListOut:
    items = [authorisation_out(r) for r in
             services.authorisations.find(credit_code=credit_code, grantee=grantee, status=status)]
    leaf = _record_export(services, officer, "EXPORT_AUTHORISATIONS", [i.model_dump() for i in items])
    return AuthorisationListOut(items=items, export_leaf_index=leaf)


@router.get("/uses", response_model=ComplianceUseListOut, summary="Data uses of every institution",
            responses=_ERRORS)
def list_uses(
    officer: ComplianceInstitution, services: Services, institution_id: str | None = None,
    since: datetime | None = None, until: datetime | None = None,
    after: Annotated[str | None, Query(max_length=32)] = None, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ComplianceUseListOut:
    now = services.now()
    found = services.uses.list(institution_id=institution_id, since=since, until=until, after=after, limit=limit)
    items = [use_out(u, now) for u in found]
    owners = {u.id: u.institution_id for u in found}
    leaf = _record_export(services, officer, "EXPORT_USES", {"uses": [i.model_dump() for i in items], "owners": owners})
    return ComplianceUseListOut(items=items, institution=owners, export_leaf_index=leaf)


@router.get("/overdue", response_model=OverdueListOut, summary="Institutions with overdue feedback",
            responses=_ERRORS)
def list_overdue(officer: ComplianceInstitution, services: Services) -> OverdueListOut:
    rows = [OverdueInstitutionOut(institution_id=o.institution_id, overdue=o.overdue,
                                  oldest_due_at=format_time(o.oldest_due_at))
            for o in overdue_institutions(services.engine, now=services.now())]
    leaf = _record_export(services, officer, "EXPORT_OVERDUE", [r.model_dump() for r in rows])
    return OverdueListOut(institutions=rows, export_leaf_index=leaf)


@router.get("/lookup-alerts", response_model=LookupAlertListOut, summary="Unusual look-up patterns",
            responses=_ERRORS)
def list_lookup_alert_records(
    officer: ComplianceInstitution, services: Services, institution_id: str | None = None,
    since: datetime | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> LookupAlertListOut:
    """Institutions that asked about many enterprises the federation does not know within one window (at
    least `min_unknown` such look-ups making at least `unknown_share` of all, `[api.lookup_watch]`): what
    probing the federation's membership looks like. Oldest first."""
    found = list_lookup_alerts(services.engine, institution_id=institution_id, since=since, limit=limit)
    items = [LookupAlertOut(alert_id=a.id, institution_id=a.institution_id, kind=a.kind,
                            window_start=format_time(a.window_start), window_end=format_time(a.window_end),
                            unknown=a.unknown, lookups=a.lookups, created_at=format_time(a.created_at))
             for a in found]
    leaf = _record_export(services, officer, "EXPORT_LOOKUP_ALERTS", [i.model_dump() for i in items])
    return LookupAlertListOut(items=items, export_leaf_index=leaf)


@router.get("/audit/checkpoints", response_model=CheckpointListOut, summary="Signed checkpoints, oldest first",
            responses=_ERRORS)
def list_checkpoints(officer: ComplianceInstitution, services: Services) -> CheckpointListOut:
    items = []
    for note in services.audit.checkpoints():
        checkpoint = Checkpoint.from_body(parse_note(note).text)
        items.append(CheckpointOut(tree_size=checkpoint.size, root=checkpoint.root.hex(), note=note))
    return CheckpointListOut(items=items, log_public_key=services.publisher_verifier_key())


@router.get("/audit/verification", response_model=LogVerificationOut, summary="Verify the whole log now",
            responses=_ERRORS)
def verify_log(officer: ComplianceInstitution, services: Services) -> LogVerificationOut:
    """The platform recomputes its one log: every stored row and node against every checkpoint it published
    (signed with its log key; the newest must carry the witness quorum, each witness key checked against its
    certificate), every checkpoint proven a prefix of the stored head, and every log merged into it
    (consent/audit/merge.py). This is the platform checking itself, for convenience: an officer proves the log
    independently with `xyd audit verify-chain`, which also asks each witness and keeps its own copy."""
    trust = services.log_trust()
    try:
        report = verify_history(services.audit, trust, witness_answers=None)
        merged = verify_merges(services.audit)
    except (AuditError, ProofError) as exc:
        return LogVerificationOut(ok=False, failure=f"{type(exc).__name__}: {exc}")
    newest = report.newest
    return LogVerificationOut(
        ok=True, tree_size=report.head.size, root=report.head.root.hex(), rows_checked=report.rows_checked,
        checkpoints=len(report.stored), quorum=trust.quorum,
        newest_cosigned_by=[] if newest is None else sorted(name for name, _ in newest.cosigners),
        merged=[MergedLogOut(archive=m.archive_prefix, origin=m.origin, size=m.size, first_index=m.first_index,
                             merge_leaf=m.merge_leaf) for m in merged])


@router.get("/audit/proofs/inclusion", response_model=InclusionProofOut, summary="Inclusion proof of a leaf",
            responses=_ERRORS)
def inclusion_proof(
    officer: ComplianceInstitution, services: Services, index: Annotated[int, Query(ge=0)],
    tree_size: Annotated[int, Query(ge=1)],
) -> InclusionProofOut:
    if index >= tree_size:
        raise ApiError(422, "INVALID_AUDIT_QUERY", "index must be below tree_size")
    try:
        proof = services.audit.inclusion_proof(index, tree_size)
    except ValueError as exc:
        raise ApiError(422, "INVALID_AUDIT_QUERY", str(exc)) from None
    leaf = services.audit.leaf(index)
    return InclusionProofOut(index=index, tree_size=tree_size, leaf_hash=leaf.leaf_hash.hex(),
                             proof=[p.hex() for p in proof])


@router.get("/audit/proofs/consistency", response_model=ConsistencyProofOut,
            summary="Consistency proof between two tree sizes", responses=_ERRORS)
def consistency_proof(
    officer: ComplianceInstitution, services: Services, first: Annotated[int, Query(ge=1)],
    second: Annotated[int, Query(ge=1)],
) -> ConsistencyProofOut:
    if first > second:
        raise ApiError(422, "INVALID_AUDIT_QUERY", "first must not exceed second")
    try:
        proof = services.audit.consistency_proof(first, second)
    except ValueError as exc:
        raise ApiError(422, "INVALID_AUDIT_QUERY", str(exc)) from None
    return ConsistencyProofOut(first=first, second=second, proof=[p.hex() for p in proof])


@router.get("/audit/leaves", response_model=LeafListOut, summary="Audit leaves by filter", responses=_ERRORS)
def list_leaves(
    officer: ComplianceInstitution, services: Services, kind: EventKind | None = None,
    institution: str | None = None, use_id: str | None = None, authorisation_id: str | None = None,
    since: datetime | None = None, until: datetime | None = None, limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> LeafListOut:
    leaves = services.audit.find(kinds=[kind] if kind else (), institution=institution, use_id=use_id,
                                 authorisation_id=authorisation_id, since=since, until=until, limit=limit)
    items = [LeafOut(index=leaf.index, leaf_hash=leaf.leaf_hash.hex(), event=json.loads(leaf.leaf)) for leaf in leaves]
    export = _record_export(services, officer, "EXPORT_LEAVES", [i.leaf_hash for i in items])
    return LeafListOut(items=items, export_leaf_index=export)
