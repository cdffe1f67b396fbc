"""Public models of alerts and webhooks."""

from __future__ import annotations

from pydantic import BaseModel, Field

from platform_node.api.schemas.common import RequestModel


class AlertOut(BaseModel):
    alert_id: str
    use_id: str
    credit_code: str
    loan_application_ref: str
    authorisation_id: str = Field(description="The MONITOR authorisation the re-scoring ran under.")
    kind: str = Field(description="SCORE_DROP or GRADE_DOWNGRADE.")
    previous_score: int
    previous_grade: str
    score: int
    grade: str
    reason_codes: list[str]
    model_id: str
    model_version: str
    trigger: str = Field(description="SCHEDULE or ON_DEMAND.")
    created_at: str
    audit_index: int


class AlertListOut(BaseModel):
    items: list[AlertOut]


class WebhookIn(RequestModel):
    url: str = Field(max_length=2000, description="https URL on port 443 or 8443 of a host with public addresses "
                                                  "only; receives the signed POSTs.")


class WebhookOut(BaseModel):
    url: str
    secret: str = Field(description="HMAC key for `XYD-Signature`; shown once, store it safely.")
    signature_header: str = Field(description="Header carrying `t=<unix>,v1=<hex HMAC-SHA256(secret, t.body)>`.")


class DeliveryOut(BaseModel):
    delivery_id: str
    event_type: str
    event_id: str
    status: str
    attempts: int
    next_attempt_at: str
    last_error: str | None = Field(description="Why the last attempt failed, as a category (never a message).")
    delivered_at: str | None
