"""Deterioration rule, webhook signatures, delivery with retries and dead letters against a real local
receiver, and the scheduled monitoring sweep (time is a manual clock: nothing sleeps)."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from consent.audit import EventKind
from platform_node.institutions.webhook_targets import WebhookPolicy
from platform_node.monitoring.alerts import alert_digest, alert_payload
from platform_node.monitoring.delivery import DeliveryStatus, RetrySchedule, WebhookDispatcher
from platform_node.monitoring.deterioration import DeteriorationKind, DeteriorationRule
from platform_node.monitoring.webhooks import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    WebhookSignatureError,
    signature_header,
    verify_signature,
)
from platform_node.uses.feedback import Decision, DecisionFeedback, RepaymentFeedback, RepaymentOutcome
from tests.platform_node.receiver import WebhookReceiver
from tests.platform_node.world import BANK_A, BANK_B, T0, TAX, Platform, build_platform

INSECURE_FOR_TESTS = WebhookPolicy(allow_insecure_for_tests=True)  # the loopback receiver speaks http


def test_deterioration_rule_thresholds() -> None:
    rule = DeteriorationRule(score_drop=40, grade_steps=1)
    assert rule.assess(700, "AA", 670, "AA") is None
    assert rule.assess(700, "AA", 660, "AA").kind is DeteriorationKind.SCORE_DROP
    assert rule.assess(700, "AA", 690, "A").kind is DeteriorationKind.GRADE_DOWNGRADE
    assert rule.assess(600, "BBB", 700, "AA") is None
    assert DeteriorationRule(grade_steps=2).assess(700, "AA", 690, "A") is None


def test_signature_verifies_and_refuses_tampering_and_stale_times() -> None:
    secret, body = b"s" * 32, b'{"alert_id":"alr-1"}'
    header = signature_header(secret, body, now=T0)
    verify_signature(secret, header, body, now=T0 + timedelta(seconds=30))
    for bad_secret, bad_header, bad_body, when in (
        (b"x" * 32, header, body, T0),
        (secret, header, body + b" ", T0),
        (secret, header, body, T0 + timedelta(minutes=10)),
        (secret, "v1=abc", body, T0),
        (secret, None, body, T0),
    ):
        with pytest.raises(WebhookSignatureError):
            verify_signature(bad_secret, bad_header, bad_body, now=when)


def test_backoff_grows_and_is_capped() -> None:
    schedule, rng = RetrySchedule(max_attempts=8, initial_s=5, multiplier=2, max_s=60, jitter=0.2), random.Random(1)
    delays = [schedule.delay(k, rng) for k in range(1, 8)]
    assert 4 <= delays[0] <= 6 and all(d <= 72 for d in delays) and delays[5] >= 48


@pytest.fixture
def platform(tmp_path: Path) -> Platform:
    return build_platform(tmp_path, enterprise_count=8)


def _grant(platform: Platform, institution: str, code: str) -> str:
    services = platform.services
    batch = services.scorer.score([code], purpose="LOAN_APPROVAL", deadline_s=2.0)
    with services.engine.begin() as conn:
        [recorded] = services.uses.record_scores(conn, institution_id=institution, purpose="LOAN_APPROVAL",
                                                 loan_application_ref="LA-9", outcomes=batch.outcomes(),
                                                 now=platform.clock())
    services.feedback.record(recorded.use_id, DecisionFeedback(Decision.GRANTED, Decimal("1000000"),
                                                               Decimal("0.04"), 12),
                             institution_id=institution, now=platform.clock())
    return recorded.use_id


def _deteriorate(platform: Platform, code: str) -> None:
    platform.sources[TAX].update(code, tax_paid=1000.0, tax_arrears=1.0)


def test_scheduled_sweep_alerts_only_authorised_deteriorated_loans(platform: Platform) -> None:
    services = platform.services
    watched, unwatched, healthy, defaulted = platform.codes[:4]
    ids = {code: _grant(platform, BANK_A, code) for code in (watched, unwatched, healthy, defaulted)}
    for code in (watched, healthy, defaulted):
        platform.authorise_monitoring(code, BANK_A)
    services.feedback.record(ids[defaulted], RepaymentFeedback(RepaymentOutcome.DEFAULT), institution_id=BANK_A,
                             now=platform.clock())
    first = services.monitoring.run(now=platform.clock())
    assert (first.candidates, first.rescored, first.skipped_unauthorised, first.alerts) == (3, 2, 1, ())
    for code in (watched, unwatched, defaulted):
        _deteriorate(platform, code)
    assert services.monitoring.run(now=platform.clock()).candidates == 0  # nothing due before the interval
    report = services.monitoring.run(now=platform.clock.advance(86_400))
    [alert] = report.alerts
    assert (alert.use_id, alert.institution_id, alert.trigger) == (ids[watched], BANK_A, "SCHEDULE")
    leaf = services.audit.leaf(alert.audit_index).event
    assert leaf.kind is EventKind.ALERT_PUSHED and leaf.digest_map["alert"] == alert_digest(alert)
    assert leaf.authorisation_id == alert.authorisation_id
    # The new score is the reference now: no repeated alert for the same level.
    assert services.monitoring.run(now=platform.clock.advance(86_400)).alerts == ()
    assert services.alerts.list_for(BANK_B) == []


def test_alert_webhook_is_retried_then_delivered_signed(platform: Platform) -> None:
    services = platform.services
    code = platform.codes[0]
    use_id = _grant(platform, BANK_A, code)
    platform.authorise_monitoring(code, BANK_A)
    _deteriorate(platform, code)
    with WebhookReceiver(failures=2) as receiver:
        secret = services.institutions.set_webhook(BANK_A, receiver.url, policy=INSECURE_FOR_TESTS)
        [alert] = services.monitoring.rescore(use_id, institution_id=BANK_A, now=platform.clock()).alerts
        dispatcher = services.dispatcher
        assert dispatcher.deliver_due(now=platform.clock()).retried == 1
        assert dispatcher.deliver_due(now=platform.clock()).retried == 0  # backoff: not due yet
        assert dispatcher.deliver_due(now=platform.clock.advance(7)).retried == 1
        assert dispatcher.deliver_due(now=platform.clock.advance(15)).delivered == 1
        [(headers, body)] = receiver.delivered()
    verify_signature(secret, headers[SIGNATURE_HEADER], body, now=platform.clock())
    assert json.loads(body) == alert_payload(alert)
    [delivery] = services.outbox.list(institution_id=BANK_A)
    assert delivery.status is DeliveryStatus.DELIVERED and delivery.attempts == 3
    assert headers[DELIVERY_HEADER] == delivery.id


def test_failing_webhook_is_dead_lettered_and_can_be_requeued(platform: Platform, tmp_path: Path) -> None:
    services = platform.services
    code = platform.codes[1]
    use_id = _grant(platform, BANK_A, code)
    platform.authorise_monitoring(code, BANK_A)
    _deteriorate(platform, code)
    services.monitoring.rescore(use_id, institution_id=BANK_A, now=platform.clock())
    with WebhookReceiver(failures=100, failure_status=503) as receiver:
        services.institutions.set_webhook(BANK_A, receiver.url, policy=INSECURE_FOR_TESTS)
        dispatcher = WebhookDispatcher(services.outbox, services.institutions.webhook_target,
                                       schedule=RetrySchedule(max_attempts=3, initial_s=1, max_s=10),
                                       policy=INSECURE_FOR_TESTS, rng=random.Random(3))
        reports = [dispatcher.deliver_due(now=platform.clock.advance(60)) for _ in range(4)]
        dispatcher.close()
        assert [(r.retried, r.dead) for r in reports] == [(1, 0), (1, 0), (0, 1), (0, 0)]
        assert len(receiver.received) == 3
    [dead] = services.outbox.list(status=DeliveryStatus.DEAD)
    assert dead.last_error == "HTTP_5XX"  # a category, never the receiver's own status or text
    assert services.outbox.requeue(dead.id, now=platform.clock()).status is DeliveryStatus.PENDING


def test_delivery_to_an_institution_without_webhook_is_retried(platform: Platform) -> None:
    services = platform.services
    with services.engine.begin() as conn:
        services.outbox.enqueue(conn, institution_id=BANK_B, event_type="alert.created", event_id="alr-x",
                                body=b"{}", now=platform.clock())
    assert services.dispatcher.deliver_due(now=platform.clock()).retried == 1
    [pending] = services.outbox.list(institution_id=BANK_B)
    assert pending.last_error == "NO_WEBHOOK" and pending.attempts == 1


def test_loans_scored_with_the_banks_horizontal_model_are_not_rescored_by_the_joint_model(platform: Platform) -> None:
    from dataclasses import replace

    from models.horizontal.published import MODEL_ID_PREFIX

    services = platform.services
    joint, horizontal = platform.codes[:2]
    _grant(platform, BANK_A, joint)
    [outcome] = services.scorer.score([horizontal], purpose="LOAN_APPROVAL", deadline_s=2.0).outcomes()
    outcome = replace(outcome, model_id=f"{MODEL_ID_PREFIX}0123456789abcdef", model_version="v0123456789ab")
    with services.engine.begin() as conn:
        [recorded] = services.uses.record_scores(conn, institution_id=BANK_A, purpose="LOAN_APPROVAL",
                                                 loan_application_ref="LA-HZ", outcomes=[outcome], now=platform.clock())
    services.feedback.record(recorded.use_id, DecisionFeedback(Decision.GRANTED, Decimal("1000000"),
                                                               Decimal("0.04"), 12),
                             institution_id=BANK_A, now=platform.clock())
    for code in (joint, horizontal):
        platform.authorise_monitoring(code, BANK_A)
    report = services.monitoring.run(now=platform.clock())
    assert (report.candidates, report.rescored) == (1, 1)
