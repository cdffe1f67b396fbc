"""`GET /v1/reports/{credit_code}` (public categories only) and `/v1/subscriptions` (batched pushes by
district or industry). Both need a data-security agreement (PUBLIC_REPORTS, SUBSCRIPTIONS)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from consent.authorisation import Purpose
from consent.authorisation.codec import format_time
from platform_node.api.deps import BankInstitution, Services
from platform_node.api.schemas.common import CreditCode, LeafReceiptOut, error_responses
from platform_node.api.schemas.reports import (
    PublicItemOut,
    ReportOut,
    ReportSectionOut,
    SubscriptionIn,
    SubscriptionListOut,
    SubscriptionOut,
)
from platform_node.declarations import declaration_json
from platform_node.institutions.agreements import AgreementScope
from platform_node.reports.report import UnknownEnterprise, build_report, empty_report
from platform_node.reports.subscriptions import Subscription, record_payload

router = APIRouter(tags=["public information"])


@router.get("/v1/reports/{credit_code}", response_model=ReportOut, summary="Public-information report",
            responses=error_responses(401, 403, 422, 429))
def get_report(
    credit_code: Annotated[CreditCode, Path()],
    purpose: Annotated[Purpose, Query(description="Why the report is read; logged.")],
    institution: BankInstitution,
    services: Services,
) -> ReportOut:
    """Registration, licences, penalties, court enforcement and the other PUBLIC categories as the source
    units publish them; a category a source marks non-public never appears. What the enterprise declared itself
    and made public is apart, in `self_declared` (flagged, with its credit commitment), never mixed into the
    sections. Each read is recorded, with a `report_read` leaf (`audit`). An
    enterprise the platform does not know gets the same answer as one with nothing published (every category
    empty), and its read is recorded too: a report is not a test of membership."""
    now = services.now()
    services.agreements.require(institution.id, AgreementScope.PUBLIC_REPORTS, now=now)
    try:
        report = build_report(services.public_records, credit_code, now=now)
    except UnknownEnterprise:
        report = empty_report(credit_code, now=now)
    declared = services.declarations.public(credit_code)
    items = sum(len(s.items) for s in report.sections)
    request_id, receipt = services.report_requests.record(institution.id, credit_code, purpose=purpose.value,
                                                          items=items, now=now)
    return ReportOut(
        request_id=request_id, credit_code=credit_code, generated_at=format_time(now),
        sections=[ReportSectionOut(category=s.category, items=[PublicItemOut(**record_payload(r)) for r in s.items])
                  for s in report.sections],
        self_declared=None if declared is None else declaration_json(declared),
        audit=LeafReceiptOut.of(receipt),
    )


def subscription_out(sub: Subscription) -> SubscriptionOut:
    return SubscriptionOut(subscription_id=sub.id, district=sub.district, industry=sub.industry, active=sub.active,
                           created_at=format_time(sub.created_at))


@router.post("/v1/subscriptions", response_model=SubscriptionOut, status_code=201,
             summary="Subscribe to new public items by district and/or industry",
             responses=error_responses(401, 403, 422, 429))
def create_subscription(body: SubscriptionIn, institution: BankInstitution, services: Services) -> SubscriptionOut:
    """New items published after now that match are pushed to the webhook in batches (event
    `public_items.batch`)."""
    now = services.now()
    services.agreements.require(institution.id, AgreementScope.SUBSCRIPTIONS, now=now)
    sub = services.subscriptions.create(institution.id, district=body.district, industry=body.industry, now=now)
    return subscription_out(sub)


@router.get("/v1/subscriptions", response_model=SubscriptionListOut, summary="Own subscriptions",
            responses=error_responses(401, 403, 429))
def list_subscriptions(institution: BankInstitution, services: Services) -> SubscriptionListOut:
    return SubscriptionListOut(items=[subscription_out(s) for s in services.subscriptions.list_for(institution.id)])


@router.delete("/v1/subscriptions/{subscription_id}", response_model=SubscriptionOut, summary="Cancel a subscription",
               responses=error_responses(401, 403, 404, 429))
def cancel_subscription(subscription_id: str, institution: BankInstitution, services: Services) -> SubscriptionOut:
    return subscription_out(services.subscriptions.cancel(subscription_id, institution_id=institution.id))
