"""The per-purpose availability policy of federated scores: parsing `[api.availability]` and deciding."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from platform_node.api.settings import ApiSettingsError, settings_from_mapping
from platform_node.scoring.availability import AvailabilityError, AvailabilityPolicy, AvailabilityRule, Mode


def test_default_is_refuse_and_the_old_switch_still_degrades_everything() -> None:
    refuse = settings_from_mapping({}).availability_policy()
    assert refuse.rule("PRE_LOAN_REVIEW").mode is Mode.REFUSE and not refuse.rule("X").degrades(0.0)
    old = settings_from_mapping({"partial_failure_policy": "SCORE_DEGRADED"}).availability_policy()
    assert old.rule("LOAN_APPROVAL").degrades(0.99)


def test_purposes_get_their_own_rules() -> None:
    settings = settings_from_mapping({"availability": {
        "default": "refuse", "POST_LOAN_MONITORING": "degrade",
        "PRE_LOAN_REVIEW": {"mode": "degrade_below", "max_missing_importance": 0.2}}})
    policy = settings.availability_policy()
    assert policy.rule("POST_LOAN_MONITORING").degrades(0.9)
    assert policy.rule("PRE_LOAN_REVIEW").degrades(0.19) and not policy.rule("PRE_LOAN_REVIEW").degrades(0.2)
    assert not policy.rule("LOAN_APPROVAL").degrades(0.0)


@pytest.mark.parametrize("bad", [
    {"default": "guess"}, {"PRE_LOAN_REVIEW": "degrade_below"}, {"pre_loan": "degrade"},
    {"PRE_LOAN_REVIEW": {"mode": "degrade_below", "max_missing_importance": 0}},
    {"PRE_LOAN_REVIEW": {"mode": "degrade_below", "max_missing_importance": 1.5}},
    {"PRE_LOAN_REVIEW": {"mode": "degrade", "threshold": 0.1}}, {"PRE_LOAN_REVIEW": 3}, "refuse"])
def test_malformed_tables_are_refused(bad) -> None:
    with pytest.raises(AvailabilityError):
        AvailabilityPolicy.from_mapping(bad)
    with pytest.raises(ApiSettingsError):
        settings_from_mapping({"availability": bad})


@given(st.floats(0.0, 1.0), st.floats(0.01, 1.0))
def test_degrade_below_is_a_strict_threshold(share: float, threshold: float) -> None:
    rule = AvailabilityRule(Mode.DEGRADE_BELOW, threshold)
    assert rule.degrades(share) == (share < threshold)
    assert not AvailabilityRule().degrades(share) and AvailabilityRule(Mode.DEGRADE).degrades(share)
