"""Public-information reports (PUBLIC categories only) and subscription pushes by district or industry."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from pathlib import Path

import pytest

from consent.authorisation import Sensitivity
from consent.credit_code import generate_credit_code
from platform_node.institutions.agreements import AgreementScope
from platform_node.monitoring.delivery import DeliveryStatus
from platform_node.reports.report import UnknownEnterprise, build_report
from platform_node.reports.subscriptions import PUSH_EVENT, InvalidSubscription
from tests.platform_node.world import BANK_A, BANK_B, T0, Platform, build_platform, public_record


@pytest.fixture
def platform(tmp_path: Path) -> Platform:
    return build_platform(tmp_path, enterprise_count=5)


def test_report_holds_public_categories_only(platform: Platform) -> None:
    code = platform.codes[0]
    records = platform.records
    records.publish(public_record("p1", code, "administrative_penalty"))
    records.publish(public_record("p2", code, "registration"))
    records.publish(public_record("s1", code, "tax_arrears_detail", sensitivity=Sensitivity.TRADE_SECRET))
    records.publish(public_record("s2", code, "registration", sensitivity=Sensitivity.PERSONAL))
    records.publish(public_record("o1", platform.codes[1], "court_enforcement"))
    report = build_report(records, code, now=T0)
    items = {item.item_id for section in report.sections for item in section.items}
    assert items == {"p1", "p2"} and report.withheld == 2
    assert [s.category for s in report.sections][:3] == ["registration", "administrative_licence",
                                                       "administrative_penalty"]
    with pytest.raises(UnknownEnterprise):
        build_report(records, generate_credit_code(random.Random(99)), now=T0)


def test_subscriptions_push_matching_items_in_batches_to_agreement_holders(platform: Platform) -> None:
    services, now = platform.services, platform.clock()
    records = platform.records
    records.publish(public_record("old", platform.codes[0], "registration", district="330106"))
    by_district = services.subscriptions.create(BANK_A, district="330106", industry=None, now=now)
    by_industry = services.subscriptions.create(BANK_B, district=None, industry="F51", now=now)
    for i in range(7):
        records.publish(public_record(f"d{i}", platform.codes[i % 5], "administrative_penalty", district="330106",
                                      industry="C13"))
    records.publish(public_record("f0", platform.codes[0], "honours", district="330110", industry="F51"))
    records.publish(public_record("x0", platform.codes[0], "court_enforcement", district="330110", industry="C13"))
    records.publish(public_record("hidden", platform.codes[0], "registration", district="330106",
                                  sensitivity=Sensitivity.TRADE_SECRET))
    services_pusher = services.pusher
    services_pusher._batch = 3  # noqa: SLF001 - small batches make the batching visible
    report = services_pusher.run(now=now)
    assert (report.batches, report.items) == (3 + 1, 7 + 1)
    bodies = {}
    for delivery in services.outbox.list():
        assert delivery.event_type == PUSH_EVENT and delivery.status is DeliveryStatus.PENDING
        payload = json.loads(delivery.body)
        bodies.setdefault(delivery.institution_id, []).extend(i["item_id"] for i in payload["items"])
        assert len(payload["items"]) <= 3
    assert bodies == {BANK_A: [f"d{i}" for i in range(7)], BANK_B: ["f0"]}
    assert services_pusher.run(now=now).items == 0  # cursor moved: nothing twice
    assert {s.id for s in services.subscriptions.list_for(BANK_A)} == {by_district.id}
    assert by_industry.institution_id == BANK_B


def test_no_push_without_agreement_and_cursor_waits(platform: Platform, tmp_path: Path) -> None:
    services, now = platform.services, platform.clock()
    services.institutions.add(kind="credit", slug="gamma", name="Gamma", role="bank", now=now)
    services.subscriptions.create("credit/gamma", district="330106", industry=None, now=now)
    platform.records.publish(public_record("n1", platform.codes[0], "registration"))
    assert services.pusher.run(now=now).skipped_without_agreement == 1
    services.agreements.record("credit/gamma", scopes=[AgreementScope.SUBSCRIPTIONS], reference="DSA-G",
                               not_before=now, not_after=now + timedelta(days=1), now=now)
    assert services.pusher.run(now=now).items == 1


def test_subscription_needs_a_wellformed_filter(platform: Platform) -> None:
    for district, industry in ((None, None), ("33010", None), (None, "bad industry")):
        with pytest.raises(InvalidSubscription):
            platform.services.subscriptions.create(BANK_A, district=district, industry=industry, now=T0)
