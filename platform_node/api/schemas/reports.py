"""Public models of public-information reports and subscriptions."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from platform_node.api.schemas.common import LeafReceiptOut, RequestModel


class PublicItemOut(BaseModel):
    item_id: str
    credit_code: str
    category: str
    source_unit: str
    published_at: str
    district: str
    industry: str
    title: str
    fields: dict[str, str]


class ReportSectionOut(BaseModel):
    category: str
    items: list[PublicItemOut]


class ReportOut(BaseModel):
    request_id: str
    credit_code: str
    generated_at: str
    sections: list[ReportSectionOut] = Field(description="Every public category, empty ones included: the source "
                                                         "units' authoritative data.")
    self_declared: dict[str, Any] | None = Field(None, description="What the enterprise declared itself and made "
                                                 "public, flagged `self_declared: true`, with its signed credit "
                                                 "commitment (text, signatory, time); never part of `sections`.")
    audit: LeafReceiptOut | None = Field(None, description="The read's `report_read` leaf.")


class SubscriptionIn(RequestModel):
    district: str | None = Field(None, pattern=r"^[0-9]{6}$", description="6-digit division code (GB/T 2260).")
    industry: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="Industry code.")


class SubscriptionOut(BaseModel):
    subscription_id: str
    district: str | None
    industry: str | None
    active: bool
    created_at: str


class SubscriptionListOut(BaseModel):
    items: list[SubscriptionOut]
