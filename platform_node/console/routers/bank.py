"""The bank's pages: score look-up, batch scoring from a CSV, its uses with feedback, alerts, subscriptions.

Every page runs the API's own rules through the API's own functions: the bank role, the institution's rate
limit, the overdue-feedback policy, the quota, the BULK_SCORING and SUBSCRIPTIONS agreements, and every read
scoped to the bank (another bank's use, run or subscription is "not found", exactly as in the API).
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, RedirectResponse, Response

from consent.audit import Checkpoint, issue_receipt, parse_note, verify_receipt
from consent.authorisation import Purpose
from consent.credit_code import invalid_credit_code_positions
from platform_node.api.deps import apply_overdue_policy, services_of
from platform_node.api.routers.scores import check_quota, score_and_record
from platform_node.api.schemas.common import LoanApplicationRef
from platform_node.api.services import PlatformServices
from platform_node.consent_requests import RequestStatus
from platform_node.console import forms
from platform_node.console.batch_runs import BatchRun, ResultRow
from platform_node.console.deps import BankSession, checked_form
from platform_node.console.errors import ConsoleError
from platform_node.console.render import SECURITY_HEADERS, page, secured
from platform_node.console.use_pages import STATES, UseFilter, use_page
from platform_node.institutions.agreements import AgreementScope
from platform_node.institutions.model import Institution
from platform_node.scoring.scorer import ScoreOutcome
from platform_node.uses.errors import FeedbackConflict, InvalidFeedback
from platform_node.uses.feedback import Decision, DecisionFeedback, RepaymentFeedback, RepaymentOutcome
from platform_node.uses.records import UseRecord

router = APIRouter(prefix="/console/bank", include_in_schema=False)
PURPOSES = tuple(p.value for p in Purpose)
BATCH_CHUNK = 500
_LOAN_REF = LoanApplicationRef.__metadata__[0].pattern  # the API's own rule for references


def _loan_ref(text: Any) -> str:
    value = text.strip() if isinstance(text, str) else ""
    if not re.fullmatch(_LOAN_REF, value):
        raise ConsoleError(422, "score.invalid_ref", code="INVALID_LOAN_REF")
    return value


def _admit(services: PlatformServices, institution: Institution, now: datetime) -> None:
    """The overdue-feedback policy every scoring path applies (refused or slowed while behind)."""
    apply_overdue_policy(services, institution, services.overdue.count(institution.id, now=now), now)


# ---- score look-up ----------------------------------------------------------------------------------------

@router.get("/score")
async def score_form(request: Request, session: BankSession) -> Response:
    return page(request, "bank/score.html", purposes=PURPOSES, result=None, form={}, failure=None)


@router.post("/score")
async def score(request: Request, session: BankSession) -> Response:
    form = await checked_form(request, session)
    services = services_of(request)
    values = {k: form.get(k) if isinstance(form.get(k), str) else "" for k in ("credit_code", "purpose", "loan_ref")}
    code = forms.credit_code(values["credit_code"], required=True)
    purpose = forms.choice(values["purpose"], PURPOSES) or Purpose.PRE_LOAN_REVIEW.value
    ref = _loan_ref(values["loan_ref"])
    now = services.now()

    def run():
        _admit(services, session.institution, now)
        return score_and_record(services, session.institution, [code], purpose, ref, now=now)[0]

    recorded = await run_in_threadpool(run)
    services.overdue.forget(session.institution.id)
    outcome = recorded.outcome
    if isinstance(outcome, ScoreOutcome):
        return page(request, "bank/score.html", purposes=PURPOSES, form=values, failure=None, result=outcome,
                    use_id=recorded.use_id, leaf=recorded.receipt.index,
                    due=now + services.uses.feedback_deadline)
    return page(request, "bank/score.html", purposes=PURPOSES, form=values, result=None, failure=outcome,
                use_id=recorded.use_id, leaf=recorded.receipt.index)


# ---- batch scoring ----------------------------------------------------------------------------------------

def read_codes(data: bytes, max_rows: int) -> list[str]:
    """Credit codes from an uploaded CSV: the `credit_code` column, else the first; a header row is skipped."""
    try:
        text = data.decode("utf-8-sig")
        rows = [row for row in csv.reader(io.StringIO(text)) if row and any(cell.strip() for cell in row)]
    except (UnicodeDecodeError, csv.Error):
        raise ConsoleError(422, "batch.not_csv", code="NOT_CSV") from None
    if not rows:
        raise ConsoleError(422, "batch.empty", code="EMPTY_BATCH")
    header = [cell.strip().lower() for cell in rows[0]]
    column = header.index("credit_code") if "credit_code" in header else 0
    body = rows[1:] if "credit_code" in header or len(rows[0][0].strip()) != 18 else rows
    codes = [row[column].strip().upper() if column < len(row) else "" for row in body]
    if not codes:
        raise ConsoleError(422, "batch.empty", code="EMPTY_BATCH")
    if len(codes) > max_rows:
        raise ConsoleError(422, "batch.too_many", code="BATCH_TOO_LARGE", max=max_rows)
    bad = invalid_credit_code_positions(codes)
    if bad:  # row numbers as a person counts them in the file (1 = its first line)
        first = 2 if body is not rows else 1
        shown = ", ".join(str(first + i) for i in bad[:5]) + (" …" if len(bad) > 5 else "")
        raise ConsoleError(422, "batch.bad_codes", code="INVALID_CREDIT_CODES", rows=shown)
    if len(set(codes)) != len(codes):
        raise ConsoleError(422, "batch.duplicates", code="DUPLICATE_CREDIT_CODES")
    return codes


@router.get("/batch")
async def batch_form(request: Request, session: BankSession) -> Response:
    services = services_of(request)
    return page(request, "bank/batch.html", purposes=PURPOSES, max_batch=services.settings.max_batch)


@router.post("/batch")
async def batch_start(request: Request, session: BankSession) -> Response:
    form = await checked_form(request, session)
    services = services_of(request)
    upload = form.get("file")
    data = await upload.read() if hasattr(upload, "read") else b""
    codes = read_codes(data, services.settings.max_batch)
    purpose = forms.choice(form.get("purpose") if isinstance(form.get("purpose"), str) else "", PURPOSES) \
        or Purpose.PRE_LOAN_REVIEW.value
    ref = _loan_ref(form.get("loan_ref"))
    institution, now = session.institution, services.now()

    def admit() -> None:  # refused at once, before anything runs: agreement, overdue policy, whole quota
        services.agreements.require(institution.id, AgreementScope.BULK_SCORING, now=now)
        _admit(services, institution, now)
        check_quota(services, institution, len(codes), now)

    await run_in_threadpool(admit)
    batch_id = services.uses.new_id("bat")

    def work(run: BatchRun) -> None:
        for start in range(0, len(codes), BATCH_CHUNK):
            chunk = codes[start:start + BATCH_CHUNK]
            recorded = score_and_record(services, institution, chunk, purpose, ref, now=services.now(),
                                        batch_id=batch_id)
            run.add([_result_row(r.use_id, r.outcome) for r in recorded])

    run = services.batch_runs.start(institution.id, batch_id, len(codes), now, work)
    return RedirectResponse(f"/console/bank/batch/{run.id}", status_code=303, headers=SECURITY_HEADERS)


def _result_row(use_id: str, outcome: Any) -> ResultRow:
    if isinstance(outcome, ScoreOutcome):
        return ResultRow(outcome.credit_code, "SCORED", use_id, outcome.score, outcome.grade,
                         outcome.probability_of_default, tuple(outcome.reason_codes))
    return ResultRow(outcome.credit_code, "FAILED", use_id, failure_code=outcome.code.value)


@router.get("/batch/{run_id}")
async def batch_progress(run_id: str, request: Request, session: BankSession) -> Response:
    run = services_of(request).batch_runs.get(run_id, institution_id=session.institution.id)
    refresh = {"Refresh": "2"} if run.state == "RUNNING" else {}
    return page(request, "bank/batch_run.html", run=run, headers=refresh)


@router.get("/batch/{run_id}/progress")
async def batch_progress_json(run_id: str, request: Request, session: BankSession) -> Response:
    run = services_of(request).batch_runs.get(run_id, institution_id=session.institution.id)
    return secured(JSONResponse({"state": run.state.value, "done": run.done, "total": run.total,
                                 "scored": run.scored, "failed": run.failed, "error": run.error}))


@router.get("/batch/{run_id}/results.csv")
async def batch_results(run_id: str, request: Request, session: BankSession) -> Response:
    run = services_of(request).batch_runs.get(run_id, institution_id=session.institution.id)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["credit_code", "status", "use_id", "score", "grade", "probability_of_default",
                     "reason_codes", "failure_code"])
    with run.lock:
        rows = list(run.results)
    for r in rows:
        writer.writerow([r.credit_code, r.status, r.use_id, "" if r.score is None else r.score, r.grade or "",
                         "" if r.probability_of_default is None else f"{r.probability_of_default:.6f}",
                         ";".join(r.reason_codes), r.failure_code or ""])
    return secured(Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{run.batch_id}.csv"'}))


# ---- uses and feedback -------------------------------------------------------------------------------------

@router.get("/uses")
async def uses(request: Request, session: BankSession) -> Response:
    services = services_of(request)
    q = request.query_params
    flt = UseFilter(institution_id=session.institution.id, credit_code=forms.credit_code(q.get("credit_code")),
                    purpose=forms.choice(q.get("purpose"), PURPOSES), since=forms.date_or_time(q.get("since")),
                    until=forms.date_or_time(q.get("until"), end=True), state=forms.choice(q.get("state"), STATES))
    now = services.now()
    found = await run_in_threadpool(use_page, services.engine, flt, now=now, cursor=q.get("after"))
    return page(request, "bank/uses.html", page_=found, now=now, states=STATES, purposes=PURPOSES,
                query=dict(q.items()))


def _receipt(services: PlatformServices, use: UseRecord) -> dict[str, Any] | None:
    """The use's inclusion receipt against the latest checkpoint, verified with the log's key; None when no
    checkpoint covers it yet."""
    note = services.audit.latest_checkpoint()
    if note is None or Checkpoint.from_body(parse_note(note).text).size <= use.audit_index:
        return None
    receipt = issue_receipt(services.audit, use.audit_index, note)
    _, verified = verify_receipt(receipt, services.log_verifier)
    return {"index": receipt.index, "size": verified.checkpoint.size, "steps": len(receipt.proof),
            "json": receipt.to_json().decode()}


def _use_page(request: Request, session: BankSession, use_id: str, *, status: int = 200, error: str | None = None,
              done: str | None = None, values: dict[str, str] | None = None) -> Response:
    services = services_of(request)
    use = services.uses.get(use_id, institution_id=session.institution.id)
    receipt = _receipt(services, use)
    return page(request, "bank/use.html", status=status, use=use, now=services.now(), receipt=receipt, error=error,
                done=done, values=values or {}, outcomes=[o.value for o in RepaymentOutcome])


@router.get("/uses/{use_id}")
async def use_detail(use_id: str, request: Request, session: BankSession) -> Response:
    return await run_in_threadpool(_use_page, request, session, use_id)


def _feedback(form: Any) -> DecisionFeedback | RepaymentFeedback:
    def text(name: str) -> str:
        value = form.get(name)
        return value if isinstance(value, str) else ""

    if text("type") == "repayment":
        outcome = forms.choice(text("outcome"), [o.value for o in RepaymentOutcome])
        if outcome is None:
            raise InvalidFeedback("choose a repayment outcome")
        return RepaymentFeedback(RepaymentOutcome(outcome))
    decision = forms.choice(text("decision"), [d.value for d in Decision])
    if decision is None:
        raise InvalidFeedback("choose granted or declined")
    first_loan = forms.tri_state(text("first_loan"), true="first", false="renewal")
    if decision == Decision.DECLINED.value:
        return DecisionFeedback(Decision.DECLINED, first_loan=first_loan)
    term = text("term_months").strip()
    if term and not term.isdigit():
        raise InvalidFeedback("term_months must be an integer in [1, 360]")
    return DecisionFeedback(Decision.GRANTED, forms.decimal(text("amount_cny")), forms.decimal(text("annual_rate")),
                            int(term) if term else None, first_loan=first_loan,
                            secured=forms.tri_state(text("secured"), true="secured", false="credit"))


@router.post("/uses/{use_id}/feedback")
async def post_feedback(use_id: str, request: Request, session: BankSession) -> Response:
    form = await checked_form(request, session)
    services = services_of(request)
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf"}
    try:
        feedback = _feedback(form)
        done = await run_in_threadpool(services.feedback.record, use_id, feedback,
                                       institution_id=session.institution.id, now=services.now())
    except (InvalidFeedback, FeedbackConflict) as exc:
        problem = str(exc)
        return await run_in_threadpool(lambda: _use_page(request, session, use_id, status=422, error=problem,
                                                         values=values))
    services.overdue.forget(session.institution.id)
    return await run_in_threadpool(lambda: _use_page(request, session, use_id,
                                                     done=f"{done.code}#{done.receipt.index}"))


# ---- alerts, subscriptions, consents ------------------------------------------------------------------------

@router.get("/alerts")
async def alerts(request: Request, session: BankSession) -> Response:
    services = services_of(request)
    found = await run_in_threadpool(services.alerts.list_for, session.institution.id, limit=200)
    return page(request, "bank/alerts.html", alerts=list(reversed(found)))


@router.get("/subscriptions")
async def subscriptions(request: Request, session: BankSession) -> Response:
    services = services_of(request)
    found = await run_in_threadpool(services.subscriptions.list_for, session.institution.id)
    return page(request, "bank/subscriptions.html", subscriptions=found, error=None)


@router.post("/subscriptions")
async def subscribe(request: Request, session: BankSession) -> Response:
    form = await checked_form(request, session)
    services = services_of(request)
    district = (form.get("district") or "").strip() if isinstance(form.get("district"), str) else ""
    industry = (form.get("industry") or "").strip() if isinstance(form.get("industry"), str) else ""
    if not district and not industry:
        raise ConsoleError(422, "subs.need_one", code="INVALID_SUBSCRIPTION")
    now = services.now()

    def create() -> None:
        services.agreements.require(session.institution.id, AgreementScope.SUBSCRIPTIONS, now=now)
        services.subscriptions.create(session.institution.id, district=district or None, industry=industry or None,
                                      now=now)

    await run_in_threadpool(create)
    return RedirectResponse("/console/bank/subscriptions", status_code=303, headers=SECURITY_HEADERS)


@router.post("/subscriptions/{subscription_id}/cancel")
async def cancel(subscription_id: str, request: Request, session: BankSession) -> Response:
    await checked_form(request, session)
    services = services_of(request)
    await run_in_threadpool(services.subscriptions.cancel, subscription_id, institution_id=session.institution.id)
    return RedirectResponse("/console/bank/subscriptions", status_code=303, headers=SECURITY_HEADERS)


@router.get("/consents")
async def consents(request: Request, session: BankSession, status: str | None = None) -> Response:
    """The bank's own consent requests (newest first, at most 200), with what became of each and, once
    approved, the consent's own status; verification answers stay sealed to the bank's key, so the page
    points to the verification uses and `xyd bank verify` rather than showing them."""
    services = services_of(request)
    wanted = status if status in {s.value for s in RequestStatus} else None

    def read() -> list[tuple[object, str | None]]:
        found = services.consent_desk.list(institution_id=session.institution.id,
                                           status=None if wanted is None else RequestStatus(wanted), limit=200)
        return [(r, None if (rec := services.consent_desk.consent_of(r)) is None else rec.status.value)
                for r in reversed(found)]

    rows = await run_in_threadpool(read)
    return page(request, "bank/consents.html", rows=rows, chosen=wanted,
                statuses=[s.value for s in RequestStatus])
