"""What a bank asks an enterprise for, as stored, and the terms it becomes (built from the request and the
enterprise's account, so the bank and the enterprise see the very same terms and id)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from consent.authorisation import (
    AuthorisedBy,
    DataCategory,
    Mode,
    Purpose,
    Sensitivity,
    Subject,
    Terms,
)
from consent.authorisation.codec import canonical_json, format_time, parse_time
from platform_node.enterprises import EnterpriseAccount


class RequestStatus(StrEnum):
    """What became of a consent request: waiting for the enterprise, approved (it is an authorisation now,
    whose own status then says ACTIVE, PAUSED, REVOKED or EXPIRED), declined, or not answered in time."""

    PENDING = "PENDING"
    APPROVED = "APPROVED"
    DECLINED = "DECLINED"
    EXPIRED = "EXPIRED"


@dataclass(frozen=True)
class RequestSpec:
    """Everything the terms are made of except who the enterprise is (its account supplies that)."""

    credit_code: str
    data_items: tuple[str, ...]
    providers: tuple[str, ...]
    categories: tuple[DataCategory, ...]
    mode: Mode
    purpose: Purpose
    loan_application_ref: str
    not_before: datetime
    not_after: datetime
    max_uses: int
    data_range: tuple[str, ...]
    data_life_days: int
    feedback_deadline_days: int

    def to_json(self) -> dict[str, Any]:
        return {
            "credit_code": self.credit_code, "data_items": list(self.data_items), "providers": list(self.providers),
            "categories": [{"name": c.name, "sensitivity": c.sensitivity.value} for c in self.categories],
            "mode": self.mode.value, "purpose": self.purpose.value,
            "loan_application_ref": self.loan_application_ref, "not_before": format_time(self.not_before),
            "not_after": format_time(self.not_after), "max_uses": self.max_uses, "data_range": list(self.data_range),
            "data_life_days": self.data_life_days, "feedback_deadline_days": self.feedback_deadline_days,
        }

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_json())

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> RequestSpec:
        return cls(
            obj["credit_code"], tuple(obj["data_items"]), tuple(obj["providers"]),
            tuple(DataCategory(c["name"], Sensitivity(c["sensitivity"])) for c in obj["categories"]),
            Mode(obj["mode"]), Purpose(obj["purpose"]), obj["loan_application_ref"], parse_time(obj["not_before"]),
            parse_time(obj["not_after"]), obj["max_uses"], tuple(obj["data_range"]), obj["data_life_days"],
            obj["feedback_deadline_days"])


@dataclass(frozen=True)
class ConsentRequest:
    """A consent request as stored."""

    id: str
    institution_id: str
    spec: RequestSpec
    status: RequestStatus
    authorisation_id: str | None
    created_at: datetime
    respond_by: datetime
    updated_at: datetime

    @property
    def credit_code(self) -> str:
        return self.spec.credit_code

    def terms_for(self, account: EnterpriseAccount) -> Terms:
        """The terms this request asks the enterprise to sign: its identity and signatory from its account,
        the rest from the request; `created_at` is the request's, so the terms (and their id) are the same
        whenever they are built."""
        spec = self.spec
        return Terms(
            subject=Subject(spec.credit_code, account.name),
            authorised_by=AuthorisedBy(account.signatory, account.signatory_role, account.identity_check),
            grantee=self.institution_id, providers=spec.providers, categories=spec.categories, mode=spec.mode,
            purpose=spec.purpose, loan_application_ref=spec.loan_application_ref, created_at=self.created_at,
            not_before=spec.not_before, not_after=spec.not_after, max_uses=spec.max_uses,
            data_range=spec.data_range, data_life_days=spec.data_life_days,
            feedback_deadline_days=spec.feedback_deadline_days, data_items=spec.data_items,
        )
