"""`/v1/uses`: a bank's own data-use records, outcome feedback, inclusion receipts and on-demand re-scoring.

Every lookup is scoped to the calling institution: another institution's use id answers 404 like a
missing one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Query

from consent.audit import Checkpoint, issue_receipt, parse_note
from consent.authorisation.codec import b64encode, format_time
from platform_node.api.deps import BankInstitution, Services
from platform_node.api.errors import NotYetCheckpointed
from platform_node.api.schemas.common import LeafReceiptOut, error_responses
from platform_node.api.schemas.uses import (
    DecisionIn,
    FeedbackIn,
    FeedbackOut,
    InclusionReceiptOut,
    RescoreOut,
    UseListOut,
    UseOut,
)
from platform_node.uses.deadlines import overdue_uses
from platform_node.uses.feedback import DecisionFeedback, RepaymentFeedback
from platform_node.uses.records import UseRecord

router = APIRouter(prefix="/v1/uses", tags=["uses"])


def _time(value: datetime | None) -> str | None:
    return None if value is None else format_time(value)


def use_out(use: UseRecord, now: datetime) -> UseOut:
    return UseOut(
        use_id=use.id, kind=use.kind.value, failure_code=use.failure_code, credit_code=use.credit_code, purpose=use.purpose,
        loan_application_ref=use.loan_application_ref, batch_id=use.batch_id, created_at=format_time(use.created_at),
        feedback_due_at=_time(use.feedback_due_at), overdue=use.overdue(now), model_id=use.model_id,
        model_version=use.model_version, probability_of_default=use.probability_of_default, score=use.score,
        grade=use.grade, reason_codes=list(use.reason_codes), degraded=use.degraded, decision=use.decision,
        decided_at=_time(use.decided_at), amount_cny=None if use.amount_cny is None else str(use.amount_cny),
        annual_rate=None if use.annual_rate is None else str(use.annual_rate), term_months=use.term_months,
        outcome=use.outcome, outcome_at=_time(use.outcome_at), audit_index=use.audit_index,
        first_loan=use.first_loan, secured=use.secured,
    )


@router.get("", response_model=UseListOut, summary="List own uses", responses=error_responses(401, 403, 429))
def list_uses(
    institution: BankInstitution,
    services: Services,
    since: datetime | None = None,
    until: datetime | None = None,
    after: Annotated[str | None, Query(max_length=32, description="Continue after this use id.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> UseListOut:
    now = services.now()
    found = services.uses.list(institution_id=institution.id, since=since, until=until, after=after, limit=limit)
    return UseListOut(items=[use_out(u, now) for u in found], next_after=found[-1].id if len(found) == limit else None)


@router.get("/overdue", response_model=UseListOut, summary="Own uses with feedback past the deadline",
            responses=error_responses(401, 403, 429))
def list_overdue(
    institution: BankInstitution, services: Services, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> UseListOut:
    now = services.now()
    found = overdue_uses(services.engine, now=now, institution_id=institution.id, limit=limit)
    return UseListOut(items=[use_out(u, now) for u in found], next_after=None)


@router.get("/{use_id}", response_model=UseOut, summary="One own use", responses=error_responses(401, 403, 404, 429))
def get_use(use_id: str, institution: BankInstitution, services: Services) -> UseOut:
    return use_out(services.uses.get(use_id, institution_id=institution.id), services.now())


@router.post(
    "/{use_id}/feedback",
    response_model=FeedbackOut,
    status_code=201,
    summary="Report the lending decision or a repayment outcome",
    responses=error_responses(401, 403, 404, 409, 422, 429),
)
def post_feedback(
    use_id: str,
    body: Annotated[FeedbackIn, Body(openapi_examples={
        "granted": {"value": {"type": "decision", "decision": "GRANTED", "amount_cny": "500000.00",
                              "annual_rate": "0.0385", "term_months": 12, "first_loan": True, "secured": False}},
        "declined": {"value": {"type": "decision", "decision": "DECLINED"}},
        "repayment": {"value": {"type": "repayment", "outcome": "ON_TIME"}},
    })],
    institution: BankInstitution,
    services: Services,
) -> FeedbackOut:
    """First the decision (`type: decision`, once), later repayment outcomes (`type: repayment`: ON_TIME,
    OVERDUE, DEFAULT; DEFAULT is final). The decision settles the use's feedback deadline. An UNANSWERED use
    (no score was served) takes no feedback: `409 FEEDBACK_CONFLICT`."""
    if isinstance(body, DecisionIn):
        feedback = DecisionFeedback(body.decision, body.amount_cny, body.annual_rate, body.term_months,
                                    first_loan=body.first_loan, secured=body.secured)
    else:
        feedback = RepaymentFeedback(body.outcome)
    now = services.now()
    done = services.feedback.record(use_id, feedback, institution_id=institution.id, now=now)
    services.overdue.forget(institution.id)
    return FeedbackOut(use_id=use_id, code=done.code, recorded_at=format_time(now), audit=LeafReceiptOut.of(done.receipt))


@router.get(
    "/{use_id}/receipt",
    response_model=InclusionReceiptOut,
    summary="Inclusion receipt of the use's leaf against the latest signed checkpoint",
    responses=error_responses(401, 403, 404, 409, 429),
)
def get_receipt(use_id: str, institution: BankInstitution, services: Services) -> InclusionReceiptOut:
    use = services.uses.get(use_id, institution_id=institution.id)
    note = services.audit.latest_checkpoint()
    if note is None or Checkpoint.from_body(parse_note(note).text).size <= use.audit_index:
        raise NotYetCheckpointed()
    receipt = issue_receipt(services.audit, use.audit_index, note)
    return InclusionReceiptOut(leaf=b64encode(receipt.leaf), index=receipt.index,
                               proof=[b64encode(p) for p in receipt.proof], checkpoint=receipt.checkpoint)


@router.post(
    "/{use_id}/rescore",
    response_model=RescoreOut,
    summary="Re-score a monitored loan now",
    responses=error_responses(401, 403, 404, 409, 429),
)
def rescore(use_id: str, institution: BankInstitution, services: Services) -> RescoreOut:
    """On-demand risk monitoring of one of the bank's granted loans (needs an ACTIVE MONITOR authorisation).
    A deterioration beyond the threshold creates an alert (listed by `GET /v1/alerts`, pushed by webhook)."""
    services.uses.get(use_id, institution_id=institution.id)
    report = services.monitoring.rescore(use_id, institution_id=institution.id, now=services.now())
    alert = report.alerts[0].id if report.alerts else None
    return RescoreOut(use_id=use_id, rescored=report.rescored == 1, alert_id=alert)
