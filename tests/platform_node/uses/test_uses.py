"""Use records with their audit leaves, feedback rules, deadlines and the overdue policy, label export."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from consent.audit import AuditEvent, EventKind, SchemaMissingError, keyed_ref
from consent.audit.schema import HEAD_ROW_ID
from platform_node.scoring.scorer import ScoreOutcome
from platform_node.uses.deadlines import (
    OverdueAction,
    OverduePolicy,
    count_overdue,
    overdue_institutions,
    overdue_uses,
)
from platform_node.uses.errors import FeedbackConflict, FeedbackOverdue, InvalidFeedback, UseNotFound
from platform_node.uses.feedback import Decision, DecisionFeedback, RepaymentFeedback, RepaymentOutcome
from platform_node.uses.labels import export_labels
from platform_node.uses.records import UseBook, result_digest
from platform_node.uses.schema import training_labels, uses
from tests.platform_node.world import BANK_A, BANK_B, T0, Platform, build_platform


@pytest.fixture
def platform(tmp_path: Path) -> Platform:
    return build_platform(tmp_path, enterprise_count=6)


def _serve(platform: Platform, institution: str, codes: list[str]) -> list[str]:
    services = platform.services
    batch = services.scorer.score(codes, purpose="PRE_LOAN_REVIEW", deadline_s=2.0)
    with services.engine.begin() as conn:
        recorded = services.uses.record_scores(conn, institution_id=institution, purpose="PRE_LOAN_REVIEW",
                                               loan_application_ref="LA-7", outcomes=batch.outcomes(),
                                               now=platform.clock())
    return [r.use_id for r in recorded]


GRANT = DecisionFeedback(Decision.GRANTED, Decimal("500000.00"), Decimal("0.0385"), 12)


def test_each_use_has_a_leaf_committing_to_the_served_result(platform: Platform) -> None:
    [use_id] = _serve(platform, BANK_A, platform.codes[:1])
    use = platform.services.uses.get(use_id)
    event = platform.services.audit.leaf(use.audit_index).event
    assert event.kind is EventKind.SCORE_SERVED and event.use_id == use_id and event.institution == BANK_A
    assert event.subject_ref == keyed_ref(platform.services.secrets.subject_ref_key, use.credit_code)
    with platform.services.engine.connect() as conn:
        nonce = conn.execute(select(uses.c.result_nonce).where(uses.c.id == use_id)).scalar_one()
    outcome = ScoreOutcome(use.credit_code, use.probability_of_default, use.score, use.grade, use.reason_codes,
                           use.model_id, use.model_version)
    assert event.digest_map["result"] == result_digest(use_id, outcome, use.loan_application_ref, bytes(nonce))
    assert use.credit_code not in platform.services.audit.leaf(use.audit_index).leaf.decode()


def test_no_use_is_recorded_when_its_leaf_cannot_be_written(platform: Platform) -> None:
    services = platform.services
    with services.engine.begin() as conn:  # break the log: its head row disappears
        conn.execute(update(services.audit.tables.head).where(services.audit.tables.head.c.id == HEAD_ROW_ID)
                     .values(id=99))
    with pytest.raises(SchemaMissingError):
        _serve(platform, BANK_A, platform.codes[:2])
    with services.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(uses)).scalar_one() == 0


def test_feedback_is_scoped_to_the_owner_and_follows_the_state_rules(platform: Platform) -> None:
    [use_id] = _serve(platform, BANK_A, platform.codes[:1])
    feedback, now = platform.services.feedback, platform.clock()
    with pytest.raises(UseNotFound):
        feedback.record(use_id, GRANT, institution_id=BANK_B, now=now)
    with pytest.raises(FeedbackConflict):
        feedback.record(use_id, RepaymentFeedback(RepaymentOutcome.ON_TIME), institution_id=BANK_A, now=now)
    done = feedback.record(use_id, GRANT, institution_id=BANK_A, now=now)
    event = platform.services.audit.leaf(done.receipt.index).event
    assert event.kind is EventKind.FEEDBACK_RECEIVED and event.reason_code == "DECISION_GRANTED"
    assert "500000" not in platform.services.audit.leaf(done.receipt.index).leaf.decode()
    with pytest.raises(FeedbackConflict):
        feedback.record(use_id, DecisionFeedback(Decision.DECLINED), institution_id=BANK_A, now=now)
    feedback.record(use_id, RepaymentFeedback(RepaymentOutcome.OVERDUE), institution_id=BANK_A, now=now)
    feedback.record(use_id, RepaymentFeedback(RepaymentOutcome.DEFAULT), institution_id=BANK_A, now=now)
    with pytest.raises(FeedbackConflict):
        feedback.record(use_id, RepaymentFeedback(RepaymentOutcome.ON_TIME), institution_id=BANK_A, now=now)
    stored = platform.services.uses.get(use_id, institution_id=BANK_A)
    assert (stored.decision, stored.amount_cny, stored.annual_rate, stored.outcome) == (
        "GRANTED", Decimal("500000.00"), Decimal("0.0385"), "DEFAULT")


@pytest.mark.parametrize("bad", [
    dict(decision=Decision.GRANTED),
    dict(decision=Decision.GRANTED, amount_cny=Decimal("-1"), annual_rate=Decimal("0.03"), term_months=12),
    dict(decision=Decision.GRANTED, amount_cny=Decimal("1.001"), annual_rate=Decimal("0.03"), term_months=12),
    dict(decision=Decision.GRANTED, amount_cny=Decimal("100"), annual_rate=Decimal("3.85"), term_months=12),
    dict(decision=Decision.GRANTED, amount_cny=Decimal("100"), annual_rate=Decimal("0.03"), term_months=0),
    dict(decision=Decision.DECLINED, amount_cny=Decimal("100")),
])
def test_malformed_decisions_are_refused(bad: dict) -> None:
    with pytest.raises(InvalidFeedback):
        DecisionFeedback(**bad)


def test_deadlines_list_and_throttle_overdue_institutions(platform: Platform) -> None:
    a_uses = _serve(platform, BANK_A, platform.codes[:3])
    _serve(platform, BANK_B, platform.codes[3:4])
    engine, services = platform.services.engine, platform.services
    assert count_overdue(engine, BANK_A, now=platform.clock()) == 0
    services.feedback.record(a_uses[0], DecisionFeedback(Decision.DECLINED), institution_id=BANK_A,
                             now=platform.clock())
    later = platform.clock.advance(timedelta(days=30, seconds=1).total_seconds())
    assert count_overdue(engine, BANK_A, now=later) == 2
    assert [(o.institution_id, o.overdue) for o in overdue_institutions(engine, now=later)] == [(BANK_A, 2), (BANK_B, 1)]
    assert {u.id for u in overdue_uses(engine, now=later, institution_id=BANK_A)} == set(a_uses[1:])
    assert OverduePolicy(OverdueAction.THROTTLE, max_overdue=1, throttled_rate_per_s=0.1).throttled_rate(BANK_A, 2) == 0.1
    assert OverduePolicy(OverdueAction.THROTTLE, max_overdue=2).throttled_rate(BANK_A, 2) is None
    assert OverduePolicy(OverdueAction.LIST_ONLY).throttled_rate(BANK_A, 50) is None
    with pytest.raises(FeedbackOverdue):
        OverduePolicy(OverdueAction.BLOCK).throttled_rate(BANK_A, 1)


def test_label_export_turns_outcomes_into_training_labels(platform: Platform) -> None:
    ids = _serve(platform, BANK_A, platform.codes[:4])
    feedback, now = platform.services.feedback, platform.clock()
    for use_id, outcome in zip(ids[:3], (RepaymentOutcome.DEFAULT, RepaymentOutcome.ON_TIME, RepaymentOutcome.OVERDUE),
                               strict=True):
        feedback.record(use_id, GRANT, institution_id=BANK_A, now=now)
        feedback.record(use_id, RepaymentFeedback(outcome), institution_id=BANK_A, now=now)
    feedback.record(ids[3], DecisionFeedback(Decision.DECLINED), institution_id=BANK_A, now=now)
    engine = platform.services.engine
    report = export_labels(engine, now=now)
    assert (report.exported, report.positives, report.negatives) == (2, 1, 1)
    assert export_labels(engine, now=now) == report  # idempotent
    with engine.connect() as conn:
        labels = {r.use_id: r.label for r in conn.execute(select(training_labels))}
    assert labels == {ids[0]: 1, ids[1]: 0}
    assert export_labels(engine, now=now, overdue_is_default=True).positives == 2



@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=11, max_size=11))
def test_every_generated_use_id_is_accepted_by_the_audit_leaf_rule(random_part: bytes) -> None:
    book = UseBook.__new__(UseBook)
    book._randbytes = lambda n: random_part  # noqa: SLF001 - the id format is what is under test
    for prefix in ("use", "bat"):
        AuditEvent(kind=EventKind.FEEDBACK_RECEIVED, occurred_at=T0, use_id=book.new_id(prefix), institution=BANK_A)


def test_generated_ids_start_with_a_letter() -> None:
    book = UseBook.__new__(UseBook)
    book._randbytes = lambda n: bytes(11)  # noqa: SLF001 - the all-zero draw
    assert book.new_id("use") == "use-a000000000000000"
    AuditEvent(kind=EventKind.FEEDBACK_RECEIVED, occurred_at=T0, use_id=book.new_id("use"), institution=BANK_A)
