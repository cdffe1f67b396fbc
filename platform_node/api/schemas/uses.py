"""Request and public models of uses, feedback and receipts."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from platform_node.api.schemas.common import LeafReceiptOut, RequestModel
from platform_node.uses.feedback import Decision, RepaymentOutcome


class UseOut(BaseModel):
    use_id: str
    kind: str = Field(description="SCORE (a score was served) or UNANSWERED (asked about, no score; no feedback).")
    failure_code: str | None = Field(description="Why an UNANSWERED use got no score, e.g. UNKNOWN_ENTERPRISE.")
    credit_code: str
    purpose: str
    loan_application_ref: str
    batch_id: str | None
    created_at: str
    feedback_due_at: str | None
    overdue: bool
    model_id: str | None
    model_version: str | None
    probability_of_default: float | None
    score: int | None
    grade: str | None
    reason_codes: list[str]
    degraded: bool
    decision: str | None
    decided_at: str | None
    amount_cny: str | None = Field(description="Decimal text, CNY.")
    annual_rate: str | None = Field(description="Decimal text, a fraction (0.0385 = 3.85%).")
    term_months: int | None
    outcome: str | None
    outcome_at: str | None
    audit_index: int
    first_loan: bool | None = Field(None, description="From the decision: a first loan (true) or a renewal (false).")
    secured: bool | None = Field(None, description="From the decision: secured (true) or a credit loan (false).")


class UseListOut(BaseModel):
    items: list[UseOut]
    next_after: str | None = Field(description="Pass as `after` to read the next page; null at the end.")


class DecisionIn(RequestModel):
    type: Literal["decision"]
    decision: Decision
    amount_cny: Decimal | None = Field(None, gt=0, description="Loan amount in CNY (granted only).")
    annual_rate: Decimal | None = Field(None, ge=0, lt=1, description="Annual rate as a fraction (granted only).")
    term_months: int | None = Field(None, ge=1, le=360, description="Term in months (granted only).")
    first_loan: bool | None = Field(
        None, description="The enterprise's first loan from any bank (首贷, true) or a renewal or repeat loan "
                          "(续贷, false); optional, for the financing statistics.")
    secured: bool | None = Field(
        None, description="Granted only: secured by collateral, pledge or guarantee (true) or a credit loan "
                          "(信用, false); optional, for the financing statistics.")


class RepaymentIn(RequestModel):
    type: Literal["repayment"]
    outcome: RepaymentOutcome


FeedbackIn = Annotated[DecisionIn | RepaymentIn, Field(discriminator="type")]


class FeedbackOut(BaseModel):
    use_id: str
    code: str = Field(description="What was recorded, e.g. DECISION_GRANTED or REPAYMENT_DEFAULT.")
    recorded_at: str
    audit: LeafReceiptOut


class InclusionReceiptOut(BaseModel):
    """Proof that the use's leaf is in a signed checkpoint (verify with the log's public key)."""

    leaf: str = Field(description="Base64 leaf bytes.")
    index: int
    proof: list[str] = Field(description="Base64 audit path.")
    checkpoint: str = Field(description="The signed checkpoint note (C2SP tlog-checkpoint).")


class RescoreOut(BaseModel):
    use_id: str
    rescored: bool
    alert_id: str | None
