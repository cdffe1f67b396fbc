"""Request and public models of consent: the catalogue of data items, banks' consent requests, the
enterprise's view (the terms to sign), approvals, signed instructions, consents and their uses."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from consent.authorisation import Mode, Purpose
from platform_node.api.schemas.common import CreditCode, LoanApplicationRef, RequestModel
from platform_node.api.schemas.enterprises import Base64
from platform_node.api.schemas.uses import InclusionReceiptOut

DataItem = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]*/[a-z0-9][a-z0-9._-]*:[a-z][a-z0-9_]{0,63}$"),
                     Field(description="`provider:field`, as `GET /v1/consent-catalogue` lists them.",
                           examples=["source/tax:revenue_12m_cny"])]
Period = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")]


class CatalogueItemOut(BaseModel):
    item: str = Field(description="The data item's name in consent requests: `provider:field`.")
    provider: str
    field: str
    category: str
    sensitivity: str = Field(description="PUBLIC, TRADE_SECRET or PERSONAL.")
    value_type: str = Field(description="number, string or bool: which checks it admits.")
    period: str | None


class CatalogueOut(BaseModel):
    items: list[CatalogueItemOut]


class ConsentRequestIn(RequestModel):
    credit_code: CreditCode
    data_items: list[DataItem] = Field(min_length=1, max_length=64)
    purpose: Purpose
    mode: Mode = Field(Mode.VERIFY, description="VERIFY (yes/no checks), QUERY (raw values too), MONITOR "
                                               "(post-loan checks), JOINT_MODEL (no answers).")
    loan_application_ref: LoanApplicationRef
    valid_days: int = Field(30, ge=1, le=366, description="The consent's window, from now.")
    max_uses: int = Field(10, ge=1, le=1000, description="Answers each source node may give under it.")
    data_range: list[Period] | None = Field(None, max_length=16, description="Periods the bank may ask about "
                                                                            "(default: those of the items).")
    data_life_days: int = Field(90, ge=0, le=3650)
    feedback_deadline_days: int = Field(30, ge=0, le=365)


class SignedIn(RequestModel):
    """Canonical JSON bytes as signed, and the Ed25519 signature (both base64)."""

    payload: Base64
    signature: Base64


class ApprovalIn(RequestModel):
    artefact: SignedIn = Field(description="The terms of the request signed with the enterprise's key "
                                           "(`SignedTerms`: payload {terms, key_id, signed_at}).")


class InstructionIn(RequestModel):
    instruction: SignedIn = Field(description="The enterprise's signed instruction (action, target, credit code, "
                                              "key id, time, nonce).")


class ConsentRequestOut(BaseModel):
    request_id: str
    institution_id: str
    credit_code: str
    data_items: list[str]
    providers: list[str]
    categories: list[str] = Field(description="`category:SENSITIVITY` the terms authorise.")
    mode: str
    purpose: str
    loan_application_ref: str
    not_before: str
    not_after: str
    max_uses: int
    data_range: list[str]
    data_life_days: int
    feedback_deadline_days: int
    status: str = Field(description="PENDING, APPROVED, DECLINED or EXPIRED.")
    created_at: str
    respond_by: str
    updated_at: str
    authorisation_id: str | None = Field(None, description="Once approved: the consent (authorisation) id.")
    consent_status: str | None = Field(None, description="Once approved: ACTIVE, PAUSED, REVOKED or EXPIRED.")
    artefact: dict[str, str] | None = Field(None, description="Once approved: the enterprise-signed artefact "
                                                              "(base64 payload and signature).")


class ConsentRequestListOut(BaseModel):
    items: list[ConsentRequestOut]


class EnterpriseRequestOut(ConsentRequestOut):
    terms: dict[str, Any] | None = Field(None, description="The terms to sign (with their id), while pending.")


class EnterpriseRequestListOut(BaseModel):
    items: list[EnterpriseRequestOut]


class ConsentOut(BaseModel):
    authorisation_id: str
    request_id: str | None
    grantee: str
    data_items: list[str]
    categories: list[str]
    mode: str
    purpose: str
    loan_application_ref: str
    status: str
    not_before: str
    not_after: str
    max_uses: int
    registered_at: str
    updated_at: str


class ConsentListOut(BaseModel):
    items: list[ConsentOut]


class ConsentUseOut(BaseModel):
    index: int = Field(description="The leaf's index in the audit log.")
    kind: str
    at: str
    institution: str | None
    source_unit: str | None
    use_id: str | None
    reason_code: str | None
    leaf_hash: str
    leaf: str = Field(description="Base64 of the leaf.")
    receipt: InclusionReceiptOut | None = Field(None, description="Inclusion proof under the latest cosigned "
                                                                  "checkpoint, once one covers the leaf.")


class ConsentUseListOut(BaseModel):
    authorisation_id: str
    items: list[ConsentUseOut]
