"""`POST /v1/scores` and `POST /v1/scores/batch`: score with the published joint model, record the use.

Order of work: a quota check for the enterprises asked for (from the use recorder's last commit, else a
read-only query), the scorer (no database lock is held while the source nodes answer; single scores go
through the coalescing scorer, which shares one fan-out among concurrent requests), the use rows and
leaves built outside any transaction, then one transaction (group commit, shared with concurrent
requests) that counts the enterprises against the daily quota and writes every use row with its audit
leaf. Every enterprise asked about is a use, answered or not: one the federation does not know (or could
not score) is an UNANSWERED use with a REQUEST_REFUSED leaf and counts against the quota like a score, so
membership cannot be probed for free or unseen (see docs/protocols/bank-api.md).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from consent.audit.storage import READ_ONLY
from consent.authorisation.codec import format_time
from platform_node.api.deps import ScoringInstitution, Services, Settings, services_of
from platform_node.api.errors import ApiError, ScoreRefused
from platform_node.api.schemas.common import LeafReceiptOut, error_responses
from platform_node.api.schemas.scores import (
    BatchFailureOut,
    BatchItemAudit,
    BatchItemOut,
    BatchScoreOut,
    BatchScoreRequest,
    ReasonOut,
    ScoreOut,
    ScoreRequest,
)
from platform_node.api.services import PlatformServices
from platform_node.institutions.agreements import AgreementScope
from platform_node.institutions.errors import QuotaExhausted
from platform_node.institutions.limits import quota_used, seconds_to_next_day
from platform_node.institutions.model import Institution
from platform_node.scoring.scorer import ScoreBatch, ScoreFailure, ScoreOutcome
from platform_node.uses.group_commit import PendingUses
from platform_node.uses.records import PreparedUses, RecordedUse

log = logging.getLogger("xyd.platform.api")
router = APIRouter(prefix="/v1/scores", tags=["scores"])


def check_quota(services: PlatformServices, institution: Institution, count: int, now: datetime) -> None:
    """Refuse before scoring if `count` more enterprises would pass today's quota. Reads the database only
    when the use recorder has not committed for the institution today (`quota_is_known`)."""
    used = services.recorder.known_quota_use(institution.id, now=now)
    if used is None:
        with services.engine.connect().execution_options(**READ_ONLY) as conn:
            used = quota_used(conn, institution.id, now=now)
    if used + count > institution.limits.daily_quota:
        raise QuotaExhausted(f"daily quota of {institution.limits.daily_quota} enterprises: {used} used, "
                             f"{count} requested", seconds_to_next_day(now))


def quota_is_known(services: PlatformServices, institution: Institution, now: datetime) -> bool:
    """Whether `check_quota` can answer without the database (so an event loop may call it)."""
    return services.recorder.known_quota_use(institution.id, now=now) is not None


def record_uses(services: PlatformServices, institution: Institution, prepared: PreparedUses,
            now: datetime) -> list[RecordedUse]:
    """Count the served enterprises against the quota and write uses and leaves, in one transaction
    (shared with concurrent requests: group commit)."""
    return services.recorder.record(institution_id=institution.id, daily_quota=institution.limits.daily_quota,
                                    prepared=prepared, now=now)


def _score(services: PlatformServices, codes: list[str], purpose: str, deadline_s: float, requester: str,
           model_id: str = "") -> ScoreBatch:
    batch = services.scoring.score(codes, purpose=purpose, deadline_s=deadline_s, requester=requester,
                                   model_id=model_id)
    batch.check_answers(codes)
    return batch


def score_and_record(services: PlatformServices, institution: Institution, codes: list[str], purpose: str,
                     loan_application_ref: str, *, now: datetime, batch_id: str | None = None,
                     model_id: str = "") -> list[RecordedUse]:
    """Check the quota, score, and record every enterprise as a use with its leaf (one group-commit
    transaction); the answers in `codes` order; then, when the purpose's own model answered (no `model_id`),
    its challenger, if any, scores them in the shadow. The batch endpoint's steps, which the console runs too."""
    check_quota(services, institution, len(codes), now)
    batch = _score(services, codes, purpose, services.settings.scoring_deadline_s, institution.id, model_id)
    prepared = services.uses.prepare_scores(institution_id=institution.id, purpose=purpose,
                                            loan_application_ref=loan_application_ref,
                                            outcomes=list(batch.results), now=now, batch_id=batch_id)
    recorded = record_uses(services, institution, prepared, now)
    if not model_id:  # the purpose's champion answered: its challenger, if any, shadows it
        services.shadow.after(purpose=purpose, institution_id=institution.id,
                              answers=[(r.use_id, r.outcome) for r in recorded])
    return recorded


@router.post(
    "",
    response_model=ScoreOut,
    summary="Score one enterprise",
    responses=error_responses(401, 403, 404, 422, 429, 502, 503, 504),
)
async def score_one(body: ScoreRequest, institution: ScoringInstitution, request: Request) -> Response:
    """Probability of default, score, grade and reason categories for one enterprise, with the use id and the
    audit receipt, from the model named in `model_id` or the platform's default for the purpose. An unknown enterprise is 404 `UNKNOWN_ENTERPRISE`; a dead or slow source node is 503/504
    under the FAIL_ENTERPRISE policy. A request that gets no score is still a use (its id is in the error
    body as `use_id`, with an audit leaf) and counts against the daily quota."""
    # Runs on the event loop. The source nodes' fan-out runs on the loop too when the scorer can
    # (`score_async`, over asyncio gRPC), else in the coalescing scorer's threads; the commit is queued to
    # the group-commit writer. Both serve many requests per call.
    services = services_of(request)
    settings = services.settings
    now = services.now()
    if quota_is_known(services, institution, now):
        check_quota(services, institution, 1, now)
    else:
        await run_in_threadpool(check_quota, services, institution, 1, now)
    codes = [body.credit_code]
    if services.scores_on_loop():
        batch = await services.async_scoring.score(codes, purpose=body.purpose.value,
                                                   deadline_s=settings.scoring_deadline_s, requester=institution.id,
                                                   model_id=body.model_id or "")
    else:
        batch = await asyncio.wrap_future(
            services.scoring.submit(codes, purpose=body.purpose.value, deadline_s=settings.scoring_deadline_s,
                                    requester=institution.id, model_id=body.model_id or ""))
    batch.check_answers(codes)
    result = batch.results[0]
    prepared = services.uses.prepare_scores(institution_id=institution.id, purpose=body.purpose.value,
                                            loan_application_ref=body.loan_application_ref, outcomes=[result],
                                            now=now)
    [recorded] = await services.loop_recorder.record(
        PendingUses(institution.id, institution.limits.daily_quota, prepared, now))
    if not body.model_id:
        services.shadow.after(purpose=body.purpose.value, institution_id=institution.id,
                              answers=[(recorded.use_id, result)])
    if isinstance(result, ScoreFailure):
        log.info("score refused", extra={"institution": institution.id, "code": result.code.value,
                                         "use_id": recorded.use_id})
        raise ScoreRefused(result, recorded.use_id)
    log.info("score served", extra={"institution": institution.id, "use_id": recorded.use_id,
                                    "leaf": recorded.receipt.index})
    reply = ScoreOut(
        use_id=recorded.use_id, credit_code=result.credit_code, probability_of_default=result.probability_of_default,
        score=result.score, grade=result.grade, reason_codes=list(result.reason_codes),
        reasons=[ReasonOut.of(r) for r in result.reasons], model_id=result.model_id,
        model_version=result.model_version, degraded=result.degraded, missing_sources=list(result.missing_sources),
        missing_importance=result.missing_importance, snapshots=dict(result.snapshots),
        feedback_due_at=format_time(now + services.uses.feedback_deadline),
        audit=LeafReceiptOut.of(recorded.receipt),
    )
    # Already a validated ScoreOut: serialise it once rather than have FastAPI validate it again.
    return Response(reply.model_dump_json(), media_type="application/json")


@router.post(
    "/batch",
    response_model=BatchScoreOut,
    response_model_exclude_none=True,
    summary="Score up to 10,000 enterprises",
    responses=error_responses(401, 403, 422, 429, 502),
)
def score_batch(
    body: BatchScoreRequest, institution: ScoringInstitution, services: Services, settings: Settings
) -> BatchScoreOut:
    """Needs a data-security agreement with scope BULK_SCORING. One model scores the whole batch: `model_id`, or
    the platform's default for the purpose. Each enterprise is answered on its own:
    `SCORED` with its use id and leaf, or `FAILED` with the reason (partial-failure policy: an enterprise
    whose source node did not answer fails; the others are served). Every enterprise of the batch, scored or
    failed, is a use with an audit leaf and counts against the daily quota."""
    now = services.now()
    services.agreements.require(institution.id, AgreementScope.BULK_SCORING, now=now)
    codes = list(body.credit_codes)
    if len(codes) > settings.max_batch:
        raise ApiError(422, "BATCH_TOO_LARGE", f"at most {settings.max_batch} credit codes per batch")
    if len(set(codes)) != len(codes):
        raise ApiError(422, "DUPLICATE_CREDIT_CODES", "credit codes in a batch must be distinct")
    batch_id = services.uses.new_id("bat")
    recorded = score_and_record(services, institution, codes, body.purpose.value, body.loan_application_ref,
                                now=now, batch_id=batch_id, model_id=body.model_id or "")
    outcomes = [r.outcome for r in recorded if isinstance(r.outcome, ScoreOutcome)]
    by_code = {r.outcome.credit_code: r for r in recorded}
    items = []
    for result in (r.outcome for r in recorded):
        use = by_code[result.credit_code]
        if isinstance(result, ScoreOutcome):
            items.append(BatchItemOut(
                credit_code=result.credit_code, status="SCORED", use_id=use.use_id,
                probability_of_default=result.probability_of_default, score=result.score, grade=result.grade,
                reason_codes=list(result.reason_codes), reasons=[ReasonOut.of(r) for r in result.reasons],
                degraded=result.degraded,
                missing_sources=list(result.missing_sources), missing_importance=result.missing_importance,
                snapshots=dict(result.snapshots), audit=BatchItemAudit(leaf_index=use.receipt.index),
            ))
        else:
            items.append(BatchItemOut(
                credit_code=result.credit_code, status="FAILED", use_id=use.use_id,
                audit=BatchItemAudit(leaf_index=use.receipt.index),
                failure=BatchFailureOut(code=result.code.value, message=result.message,
                                        failed_sources=list(result.failed_sources)),
            ))
    last = recorded[-1].receipt if recorded else None
    log.info("batch served", extra={"institution": institution.id, "batch_id": batch_id,
                                    "scored": len(outcomes), "failed": len(codes) - len(outcomes)})
    return BatchScoreOut(
        batch_id=batch_id,
        model_id=outcomes[0].model_id if outcomes else None,
        model_version=outcomes[0].model_version if outcomes else None,
        scored=len(outcomes), failed=len(codes) - len(outcomes),
        feedback_due_at=format_time(now + services.uses.feedback_deadline),
        audit_tree_size=None if last is None else last.tree_size,
        audit_root=None if last is None else last.root.hex(),
        items=items,
    )
