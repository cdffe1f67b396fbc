"""Public models of the compliance endpoints."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from platform_node.api.schemas.uses import UseOut


class AuthorisationOut(BaseModel):
    authorisation_id: str
    credit_code: str
    grantee: str
    providers: list[str]
    categories: list[str]
    mode: str
    purpose: str
    loan_application_ref: str
    status: str
    not_before: str
    not_after: str
    registered_at: str
    updated_at: str


class AuthorisationListOut(BaseModel):
    items: list[AuthorisationOut]
    export_leaf_index: int = Field(description="The AUDIT_EXPORT leaf that records this read.")


class ComplianceUseListOut(BaseModel):
    items: list[UseOut]
    institution: dict[str, str] = Field(description="use_id -> institution id.")
    export_leaf_index: int


class OverdueInstitutionOut(BaseModel):
    institution_id: str
    overdue: int
    oldest_due_at: str


class OverdueListOut(BaseModel):
    institutions: list[OverdueInstitutionOut]
    export_leaf_index: int


class CheckpointOut(BaseModel):
    tree_size: int
    root: str = Field(description="Hex root hash.")
    note: str = Field(description="Signed (cosigned) checkpoint note.")


class CheckpointListOut(BaseModel):
    items: list[CheckpointOut]
    log_public_key: str = Field(description="The log's verifier key (C2SP vkey).")


class InclusionProofOut(BaseModel):
    index: int
    tree_size: int
    leaf_hash: str
    proof: list[str] = Field(description="Hex audit path.")


class ConsistencyProofOut(BaseModel):
    first: int
    second: int
    proof: list[str] = Field(description="Hex consistency proof.")


class LeafOut(BaseModel):
    index: int
    leaf_hash: str
    event: dict[str, Any] = Field(description="The audit event (ids, codes and digests only).")


class LeafListOut(BaseModel):
    items: list[LeafOut]
    export_leaf_index: int


class LookupAlertOut(BaseModel):
    alert_id: str
    institution_id: str
    kind: str = Field(description="UNKNOWN_LOOKUPS: many look-ups of enterprises the federation does not know.")
    window_start: str
    window_end: str
    unknown: int = Field(description="Look-ups of unknown enterprises in the window when the alert was raised.")
    lookups: int = Field(description="All look-ups of the institution in the window at that moment.")
    created_at: str


class LookupAlertListOut(BaseModel):
    items: list[LookupAlertOut]
    export_leaf_index: int


class MergedLogOut(BaseModel):
    archive: str
    origin: str
    size: int
    first_index: int
    merge_leaf: int


class LogVerificationOut(BaseModel):
    ok: bool
    failure: str | None = Field(None, description="What failed, when it did (TAMPERED, TRUNCATED, FORKED, ...).")
    tree_size: int | None = None
    root: str | None = None
    rows_checked: int = 0
    checkpoints: int = Field(0, description="The log's own checkpoints, each signed and proven a prefix of the log.")
    newest_cosigned_by: list[str] = Field(default_factory=list)
    quorum: int = 0
    merged: list[MergedLogOut] = Field(default_factory=list, description="Logs merged into this one, checked too.")
