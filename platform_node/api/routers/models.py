"""`GET /v1/models`, `POST /v1/models/{model_id}/scores` and `GET /v1/models/{model_id}/challenger-report`:
the models this API serves, scoring with a horizontal (banks') model, and a challenger's shadow scores against
the champion's.

A horizontal model reads the pilot banks' standardised loan-book variables, which the platform does not
hold, so the asking bank sends its applicant's variables in the request. The platform scores them and
forgets them: no variable value is logged, stored or echoed in an error. The use is recorded exactly like
a joint-model score (same quota, same use row and audit leaf, in one transaction).
"""

from __future__ import annotations

import logging
import threading
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field, StringConstraints

from consent.authorisation import Purpose
from consent.authorisation.codec import format_time
from models.horizontal import InvalidVariablesError, public_training_summary
from platform_node.api.deps import CurrentInstitution, ScoringInstitution, Services, Settings
from platform_node.api.errors import ApiError, ForbiddenRole
from platform_node.api.routers.scores import check_quota, record_uses
from platform_node.api.schemas.common import (
    CreditCode,
    LeafReceiptOut,
    LoanApplicationRef,
    RequestModel,
    error_responses,
)
from platform_node.institutions.model import Role
from platform_node.scoring.challenger import report as challenger_report
from platform_node.scoring.horizontal import HorizontalScorer, UnknownModel
from platform_node.scoring.scorer import Scorer
from platform_node.uses.feedback import Decision, RepaymentOutcome
from platform_node.uses.schema import uses

log = logging.getLogger("xyd.platform.api")
router = APIRouter(prefix="/v1/models", tags=["models"])

MAX_VARIABLES = 1000
_scorer_lock = threading.Lock()

VariableName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")]


class ModelScoreRequest(RequestModel):
    purpose: Purpose = Field(description="Why the bank asks; logged with the use.")
    loan_application_ref: LoanApplicationRef
    credit_code: CreditCode
    variables: dict[VariableName, Annotated[float, Field(strict=True)]] = Field(
        max_length=MAX_VARIABLES,
        description="The applicant's standardised variables by name, exactly the model's (`GET /v1/models`). "
                    "Used for this request only: never stored, logged or echoed.")


class ModelScoreOut(BaseModel):
    use_id: str = Field(description="Id of the data-use record; feedback is posted against it.")
    credit_code: str
    probability_of_default: float = Field(ge=0, le=1)
    score: int = Field(description="Points on the joint models' scale (600 at 50:1 good:bad odds, 20 PDO).")
    grade: str = Field(description="Rating band, best first: AAA, AA, A, BBB, BB, B, CCC, C.")
    reason_codes: list[str] = Field(description="The variables that raised the risk most, as lowercase tokens.")
    model_id: str
    model_version: str
    feedback_due_at: str = Field(description="RFC 3339 UTC deadline for the outcome feedback.")
    audit: LeafReceiptOut


class ServedModelOut(BaseModel):
    model_id: str
    model_version: str
    kind: Literal["joint", "horizontal_logistic", "horizontal_xgboost"]
    algorithm: str | None = Field(None, description="Joint models: secureboost, scorecard, hetero_lr (vertical "
                                                    "logistic regression on raw features) or hetero_lr_woe.")
    default: bool | None = Field(None, description="Joint models: whether it answers `POST /v1/scores` for "
                                                   "purposes without a model of their own.")
    purposes: list[str] | None = Field(None, description="Joint models: the purposes it answers by default.")
    variables: list[str] | None = Field(None, description="Horizontal models: the variables a request sends.")
    created_at: str | None = Field(None, description="Horizontal models: when the banks' run finished.")
    training: dict[str, Any] | None = Field(
        None, description="Horizontal models: strategy, aggregation, rounds, number of banks, pooled held-out "
                          "AUC, privacy budget.")


class ModelListOut(BaseModel):
    items: list[ServedModelOut]


async def get_horizontal_scorer(request: Request, settings: Settings) -> HorizontalScorer:
    """The app's one `HorizontalScorer` over `[api] horizontal_models_dir`, built on first use."""
    scorer = getattr(request.app.state, "horizontal_scorer", None)
    if scorer is None:
        with _scorer_lock:
            scorer = getattr(request.app.state, "horizontal_scorer", None)
            if scorer is None:
                scorer = request.app.state.horizontal_scorer = HorizontalScorer(settings.horizontal_models_dir)
    return scorer


Horizontal = Annotated[HorizontalScorer, Depends(get_horizontal_scorer)]


def _joint(scorer: Scorer) -> ServedModelOut | None:
    """The joint model the scorer serves now (`serving()`: id and version, None before any is published)."""
    serving = scorer.serving() if hasattr(scorer, "serving") else None
    return None if serving is None else ServedModelOut(model_id=serving[0], model_version=serving[1], kind="joint")


def _joints(scorer: Scorer) -> list[ServedModelOut]:
    """Every published joint model a request may name (`model_id`), the defaults marked; a scorer of one model:
    that one."""
    if not hasattr(scorer, "published"):
        return [joint] if (joint := _joint(scorer)) is not None else []
    serving = scorer.serving() if hasattr(scorer, "serving") else None
    choice = scorer.choice
    default = choice.default or (serving[0] if serving else "")
    return [ServedModelOut(model_id=model_id, model_version=version, kind="joint", algorithm=algorithm,
                           default=model_id == default,
                           purposes=sorted(p for p, m in choice.purposes.items() if m == model_id))
            for model_id, version, algorithm in scorer.published()]


@router.get("", response_model=ModelListOut, response_model_exclude_none=True, summary="Models served",
            responses=error_responses(401, 403, 429))
def list_models(institution: CurrentInstitution, services: Services, horizontal: Horizontal) -> ModelListOut:
    """Every joint model `POST /v1/scores` may be asked for by `model_id` (the default and each purpose's marked),
    and every horizontal model `POST /v1/models/{model_id}/scores` accepts, with the variables it reads."""
    items = _joints(services.scorer)
    for model in horizontal.models():
        published = model.published
        items.append(ServedModelOut(
            model_id=published.model_id, model_version=published.model_version, kind=published.kind,
            variables=list(published.model.feature_names), created_at=published.model.created_at,
            training=public_training_summary(published.model.training)))
    return ModelListOut(items=items)


@router.post(
    "/{model_id}/scores",
    response_model=ModelScoreOut,
    summary="Score one applicant with a horizontal model",
    responses=error_responses(401, 403, 404, 422, 429),
)
def score_with_model(
    body: ModelScoreRequest,
    institution: ScoringInstitution,
    services: Services,
    horizontal: Horizontal,
    model_id: Annotated[str, Path(max_length=128, description="A horizontal model's id from `GET /v1/models`.")],
) -> ModelScoreOut:
    """Probability of default, score, grade and reason codes from the applicant's own standardised variables,
    which the bank sends (the platform holds none of them and keeps none). An unknown model is 404
    `UNKNOWN_MODEL`; missing, unknown or non-finite variables are 422 `INVALID_VARIABLES` (naming the
    model's variables, counting the names it does not know). The use
    counts against the daily quota and gets a use id, a feedback deadline and an audit leaf like any score."""
    now = services.now()
    try:
        outcome = horizontal.score(model_id, body.credit_code, body.variables)
    except UnknownModel:
        raise ApiError(404, "UNKNOWN_MODEL", "no horizontal model with this id is served") from None
    except InvalidVariablesError as exc:
        # The model's own variable names may be named; names the bank sent that the model lacks are only
        # counted (nothing submitted is echoed).
        errors = ([{"field": f"body.variables.{n}", "message": "missing"} for n in exc.missing]
                  + [{"field": f"body.variables.{n}", "message": "not a finite number"} for n in exc.not_finite])
        parts = [f"missing: {', '.join(exc.missing)}"] if exc.missing else []
        if exc.unknown:
            unknown = f"{len(exc.unknown)} name(s) not among this model's variables"
            errors.append({"field": "body.variables", "message": unknown})
            parts.append(unknown)
        if exc.not_finite:
            parts.append(f"not finite: {', '.join(exc.not_finite)}")
        raise ApiError(422, "INVALID_VARIABLES", "variables do not fit the model: " + "; ".join(parts),
                       errors=errors) from None
    check_quota(services, institution, 1, now)
    prepared = services.uses.prepare_scores(institution_id=institution.id, purpose=body.purpose.value,
                                            loan_application_ref=body.loan_application_ref, outcomes=[outcome],
                                            now=now)
    [recorded] = record_uses(services, institution, prepared, now)
    log.info("score served", extra={"institution": institution.id, "use_id": recorded.use_id,
                                    "leaf": recorded.receipt.index, "model": outcome.model_id})
    return ModelScoreOut(
        use_id=recorded.use_id, credit_code=outcome.credit_code, probability_of_default=outcome.probability_of_default,
        score=outcome.score, grade=outcome.grade, reason_codes=list(outcome.reason_codes), model_id=outcome.model_id,
        model_version=outcome.model_version, feedback_due_at=format_time(now + services.uses.feedback_deadline),
        audit=LeafReceiptOut.of(recorded.receipt),
    )


class ScoreDistributionOut(BaseModel):
    mean: float
    std: float
    p10: float
    p50: float
    p90: float
    min: float
    max: float


class ChallengerReportOut(BaseModel):
    challenger_model: str
    champion_models: list[str] = Field(description="The models that answered the banks on the shadowed traffic.")
    purposes: list[str]
    shadowed: int = Field(description="Champion scores the challenger was asked to shadow.")
    challenger_scored: int
    challenger_failed: int = Field(description="Shadowed enterprises the challenger gave no score (a source "
                                               "refused or did not answer).")
    challenger_degraded: int
    grade_agreement: float | None = Field(None, description="Share of shadowed enterprises both models put in the "
                                                            "same grade.")
    mean_score_difference: float | None = Field(None, description="Mean of challenger minus champion points.")
    mean_abs_score_difference: float | None = None
    champion_scores: ScoreDistributionOut | None = None
    challenger_scores: ScoreDistributionOut | None = None
    with_outcome: int = Field(description="Shadowed uses with a repayment label (DEFAULT 1, ON_TIME 0).")
    champion_auc: float | None = Field(None, description="On the labelled uses; null until both classes occur.")
    challenger_auc: float | None = None


def _labels(services, use_ids: list[str]) -> dict[str, int]:
    """Repayment labels of granted loans among `use_ids`: DEFAULT 1, ON_TIME 0 (OVERDUE is indeterminate)."""
    labelled = {RepaymentOutcome.DEFAULT.value: 1, RepaymentOutcome.ON_TIME.value: 0}
    out: dict[str, int] = {}
    with services.engine.connect() as conn:
        for k in range(0, len(use_ids), 500):
            rows = conn.execute(
                uses.select().with_only_columns(uses.c.id, uses.c.outcome)
                .where(uses.c.id.in_(use_ids[k:k + 500]), uses.c.decision == Decision.GRANTED.value,
                       uses.c.outcome.in_(list(labelled))))
            out.update({r.id: labelled[r.outcome] for r in rows})
    return out


@router.get("/{model_id}/challenger-report", response_model=ChallengerReportOut, summary="Champion/challenger",
            responses=error_responses(401, 403, 404, 429))
def get_challenger_report(
    institution: CurrentInstitution, services: Services,
    model_id: Annotated[str, Path(max_length=128, description="The challenger's model id.")],
) -> ChallengerReportOut:
    """For compliance and the platform's administrators: how a challenger (`[api.models.challengers]`), scored in
    the shadow of the champion on live traffic, compares with the champion on the same enterprises: counts,
    grade agreement, score differences and distributions, and both models' AUC on the loans with a repayment
    outcome. The challenger's scores never reach a bank. 404 `UNKNOWN_MODEL` if it shadowed nothing."""
    if institution.role not in (Role.COMPLIANCE, Role.ADMIN):
        raise ForbiddenRole(f"{Role.COMPLIANCE.value} or {Role.ADMIN.value}")
    body = challenger_report(services.engine, model_id, lambda ids: _labels(services, ids))
    if not body["shadowed"]:
        raise ApiError(404, "UNKNOWN_MODEL", "no shadow scores recorded for this model")
    return ChallengerReportOut(**body)
