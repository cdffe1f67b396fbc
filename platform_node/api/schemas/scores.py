"""Request and public models of scoring."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, field_validator

from consent.authorisation import Purpose
from consent.credit_code import InvalidCreditCode, invalid_credit_code_positions, validate_credit_code
from platform_node.api.schemas.common import CreditCode, LeafReceiptOut, LoanApplicationRef, RequestModel
from platform_node.api.settings import MAX_BATCH

ModelId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")]
MODEL_ID_DESCRIPTION = ("A published joint model's id (`GET /v1/models`); without it, the platform's default model "
                        "for the purpose. An id with no published model is 503 `MODEL_UNAVAILABLE`.")


class ScoreRequest(RequestModel):
    credit_code: CreditCode
    purpose: Purpose = Field(description="Why the bank asks; logged with the use.")
    loan_application_ref: LoanApplicationRef
    model_id: ModelId | None = Field(None, description=MODEL_ID_DESCRIPTION)


class BatchScoreRequest(RequestModel):
    credit_codes: list[Annotated[str, StringConstraints(min_length=18, max_length=18)]] = Field(
        min_length=1, max_length=MAX_BATCH, description=f"1 to {MAX_BATCH} distinct unified social credit codes.")
    purpose: Purpose
    loan_application_ref: LoanApplicationRef
    model_id: ModelId | None = Field(None, description=MODEL_ID_DESCRIPTION)

    @field_validator("credit_codes")
    @classmethod
    def _check_codes(cls, codes: list[str]) -> list[str]:
        # One vectorised check for the whole list; the precise reason is computed for the first few only.
        bad = invalid_credit_code_positions(codes)
        if bad:
            reasons = []
            for position in bad[:3]:
                try:
                    validate_credit_code(codes[position])
                except InvalidCreditCode as exc:
                    reasons.append(f"[{position}] {exc.public_reason}")
            raise ValueError(f"{len(bad)} invalid unified social credit codes: {'; '.join(reasons)}")
        return codes


class ReasonOut(BaseModel):
    source: str = Field(description="The party whose data the reason is (kind/name).")
    category: str = Field(description="Its data category.")
    item: str | None = Field(None, description="The catalogue item, when the source unit's approval lets its "
                             "items be named (`serving.name_items`).")
    description: str | None = Field(None, description="The item's public description from the unit's catalogue; "
                                    "never a value or a threshold.")
    direction: Literal["raises_risk", "lowers_risk", "source_missing"] = Field(
        description="How the item moved the risk; `source_missing`: the source did not answer (degraded score).")

    @classmethod
    def of(cls, reason) -> ReasonOut:
        return cls(source=reason.source, category=reason.category, item=reason.item or None,
                   description=reason.description or None, direction=reason.direction.value)


class ScoreOut(BaseModel):
    use_id: str = Field(description="Id of the data-use record; feedback is posted against it.")
    credit_code: str
    probability_of_default: float = Field(ge=0, le=1)
    score: int = Field(description="Scorecard points.")
    grade: str = Field(description="Rating band, best first: AAA, AA, A, BBB, BB, B, C.")
    reason_codes: list[str] = Field(description="Data categories that lowered the score most (never values).")
    reasons: list[ReasonOut] = Field(default_factory=list, description="SecureBoost and vertical LR: the data "
                                     "items behind the score, raising the risk most first, then any missing "
                                     "source (a scorecard: missing sources only).")
    model_id: str
    model_version: str
    degraded: bool = Field(description="True if scored without some sources (the purpose's availability policy "
                                       "allows degraded scores): SecureBoost sends their splits down their learned "
                                       "default (missing-value) direction; vertical LR and scorecards put their "
                                       "contribution at its training mean.")
    missing_sources: list[str]
    missing_importance: float = Field(ge=0, le=1, description="The missing sources' share of the model's "
                                      "importance (SecureBoost: split gain; LR and scorecards: the spread of "
                                      "each party's contribution over the training rows); 0 unless degraded.")
    snapshots: dict[str, str] = Field(default_factory=dict, description="The data snapshot each party's part of "
                                      "this score came from (party -> snapshot id); one per party, never mixed.")
    feedback_due_at: str = Field(description="RFC 3339 UTC deadline for the outcome feedback.")
    audit: LeafReceiptOut


class BatchFailureOut(BaseModel):
    code: str
    message: str
    failed_sources: list[str]


class BatchItemAudit(BaseModel):
    leaf_index: int = Field(description="The use's leaf; `GET /v1/uses/{use_id}/receipt` proves it.")


class BatchItemOut(BaseModel):
    credit_code: str
    status: Literal["SCORED", "FAILED"]
    use_id: str | None = None
    probability_of_default: float | None = None
    score: int | None = None
    grade: str | None = None
    reason_codes: list[str] | None = None
    reasons: list[ReasonOut] | None = None
    degraded: bool | None = None
    missing_sources: list[str] | None = None
    missing_importance: float | None = None
    snapshots: dict[str, str] | None = None
    audit: BatchItemAudit | None = None
    failure: BatchFailureOut | None = None


class BatchScoreOut(BaseModel):
    batch_id: str
    model_id: str | None
    model_version: str | None
    scored: int
    failed: int
    feedback_due_at: str
    audit_tree_size: int | None = Field(description="Log size after the batch's last leaf (commits to all).")
    audit_root: str | None = Field(description="Hex root of that log.")
    items: list[BatchItemOut]
