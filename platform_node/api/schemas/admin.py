"""Request and public models of administration."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from platform_node.api.schemas.common import RequestModel
from platform_node.institutions.agreements import AgreementScope
from platform_node.institutions.model import InstitutionKind, Role


class LimitsIn(RequestModel):
    rate_per_s: float = Field(gt=0, le=10_000)
    burst: int = Field(ge=1, le=100_000)
    daily_quota: int = Field(ge=0, le=100_000_000)


class InstitutionIn(RequestModel):
    kind: InstitutionKind
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")
    name: str = Field(min_length=1, max_length=200)
    role: Role
    limits: LimitsIn | None = None


class InstitutionOut(BaseModel):
    institution_id: str
    kind: str
    name: str
    role: str
    status: str
    created_at: str
    rate_per_s: float
    burst: int
    daily_quota: int
    webhook_url: str | None


class IssuedKeyOut(BaseModel):
    institution: InstitutionOut
    api_key: str = Field(description="Shown once; only its hash is stored.")


class AgreementIn(RequestModel):
    scopes: list[AgreementScope] = Field(min_length=1)
    reference: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$", description="Signed paper's reference.")
    not_before: datetime
    not_after: datetime


class AgreementOut(BaseModel):
    agreement_id: str
    institution_id: str
    scopes: list[str]
    reference: str
    not_before: str
    not_after: str


class SweepOut(BaseModel):
    candidates: int
    rescored: int
    failed: int
    skipped_unauthorised: int
    alert_ids: list[str]


class DeliveryReportOut(BaseModel):
    delivered: int
    retried: int
    dead: int


class PushReportOut(BaseModel):
    batches: int
    items: int
    skipped_without_agreement: int


class LabelExportOut(BaseModel):
    exported: int
    positives: int
    negatives: int


class ExpiryOut(BaseModel):
    requests: list[str] = Field(description="Consent requests expired now (not answered in time).")
    consents: list[str] = Field(description="Consents (authorisations) expired now (window ended).")
