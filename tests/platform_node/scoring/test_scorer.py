"""The scoring interface's contract, scorecard arithmetic, and the local scorer's partial-failure policy."""

from __future__ import annotations

import math
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.scorecard import ScorecardError, ScorecardParams
from models.scorecard.points_table import Bin, Characteristic
from platform_node.scoring.local_scorecard import BlockedSource, UnavailableSource
from platform_node.scoring.scorer import (
    FailureCode,
    PartialFailurePolicy,
    ScoreBatch,
    ScoreFailure,
    ScoreOutcome,
    ScorerContractError,
)
from tests.platform_node.world import (
    COURT,
    SCORECARD,
    SOCIAL,
    TAX,
    enterprises,
    feature_sources,
    local_scorer,
)


def _outcome(**changes) -> ScoreOutcome:
    values = dict(credit_code="91330105MARQ283F4K", probability_of_default=0.02, score=650, grade="A",
                  reason_codes=("tax",), model_id="m", model_version="1")
    values.update(changes)
    return ScoreOutcome(**values)


@pytest.mark.parametrize("reasons", [("1234567.89",), ("tax_paid=12",), ("Tax",), ("tax", "tax")])
def test_outcome_refuses_reason_codes_that_are_not_category_names(reasons) -> None:
    with pytest.raises(ScorerContractError):
        _outcome(reason_codes=reasons)


@pytest.mark.parametrize("pd", [-0.1, 1.5, math.nan, 1])
def test_outcome_refuses_probabilities_outside_the_unit_interval(pd) -> None:
    with pytest.raises(ScorerContractError):
        _outcome(probability_of_default=pd)


def test_degraded_flag_and_missing_sources_go_together() -> None:
    with pytest.raises(ScorerContractError):
        _outcome(degraded=True)
    with pytest.raises(ScorerContractError):
        _outcome(missing_sources=(TAX,))
    assert _outcome(degraded=True, missing_sources=(TAX,)).missing_sources == (TAX,)


def test_source_unavailable_failure_names_the_sources() -> None:
    with pytest.raises(ScorerContractError):
        ScoreFailure("91330105MARQ283F4K", FailureCode.SOURCE_UNAVAILABLE, "down")


def test_batch_check_refuses_wrong_count_and_order() -> None:
    a, b = _outcome(credit_code="A"), _outcome(credit_code="B")
    ScoreBatch((a, b)).check_answers(["A", "B"])
    with pytest.raises(ScorerContractError):
        ScoreBatch((b, a)).check_answers(["A", "B"])
    with pytest.raises(ScorerContractError):
        ScoreBatch((a,)).check_answers(["A", "B"])


def test_characteristic_bins_must_increase_and_end_unbounded() -> None:
    with pytest.raises(ScorecardError):
        Characteristic("x", TAX, "tax", (Bin(5, 1), Bin(3, 2), Bin(None, 0)), 0)
    with pytest.raises(ScorecardError):
        Characteristic("x", TAX, "tax", (Bin(5, 1),), 0)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=300, max_value=900), st.integers(min_value=1, max_value=200))
def test_odds_double_every_pdo_points(score: int, step: int) -> None:
    scale = ScorecardParams(base_score=600, base_odds=50.0, pdo=40.0)
    p1, p2 = scale.probability_of_default(score), scale.probability_of_default(score + step)
    assert p2 < p1
    odds1, odds2 = (1 - p1) / p1, (1 - p2) / p2
    assert math.isclose(odds2 / odds1, 2 ** (step / 40.0), rel_tol=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.floats(0, 5e6), st.sampled_from([0.0, 1.0, None]), st.floats(0, 500) | st.none(), st.floats(0, 5))
def test_score_is_base_points_plus_each_bins_points(tax_paid, arrears, headcount, cases) -> None:
    features = {"tax_paid": tax_paid, "tax_arrears": arrears, "insured_headcount": headcount,
                "enforcement_cases": cases}
    verdict = SCORECARD.evaluate(features)
    expected = SCORECARD.base_points + sum(c.points_for(features[c.feature]) for c in SCORECARD.characteristics)
    assert verdict.score == expected
    assert verdict.probability_of_default == SCORECARD.scale.probability_of_default(expected)
    assert verdict.grade == SCORECARD.grades.grade(expected)
    assert set(verdict.reason_codes) <= {"tax", "social_insurance", "court_records"}


def test_reason_codes_rank_categories_by_points_lost() -> None:
    verdict = SCORECARD.evaluate({"tax_paid": 10.0, "tax_arrears": 1.0, "insured_headcount": 500.0,
                                  "enforcement_cases": 3.0})
    # tax lost 45 + 40 = 85, court 60, social 0
    assert verdict.reason_codes == ("tax", "court_records")


def test_local_scorer_scores_known_and_refuses_unknown_enterprises() -> None:
    codes = enterprises(6)
    scorer = local_scorer(feature_sources(codes[:5]))
    batch = scorer.score(codes, purpose="PRE_LOAN_REVIEW", deadline_s=2.0)
    batch.check_answers(codes)
    assert len(batch.outcomes()) == 5
    [unknown] = batch.failures()
    assert unknown.credit_code == codes[5] and unknown.code is FailureCode.UNKNOWN_ENTERPRISE
    scorer.close()


def test_dead_source_fails_enterprises_under_the_default_policy() -> None:
    codes = enterprises(4)
    sources = feature_sources(codes)
    scorer = local_scorer(sources).with_sources([UnavailableSource(sources[COURT])])
    batch = scorer.score(codes, purpose="PRE_LOAN_REVIEW", deadline_s=2.0)
    assert not batch.outcomes()
    assert {f.code for f in batch.failures()} == {FailureCode.SOURCE_UNAVAILABLE}
    assert all(f.failed_sources == (COURT,) for f in batch.failures())
    scorer.close()


def test_degraded_policy_scores_with_missing_bin_points_and_says_so() -> None:
    codes = enterprises(3)
    sources = feature_sources(codes)
    healthy = local_scorer(sources, PartialFailurePolicy.SCORE_DEGRADED)
    degraded = healthy.with_sources([UnavailableSource(sources[SOCIAL])])
    full = healthy.score(codes, purpose="PRE_LOAN_REVIEW", deadline_s=2.0).outcomes()
    partial = degraded.score(codes, purpose="PRE_LOAN_REVIEW", deadline_s=2.0).outcomes()
    social = next(c for c in SCORECARD.characteristics if c.source == SOCIAL)
    for whole, part in zip(full, partial, strict=True):
        assert part.degraded and part.missing_sources == (SOCIAL,) and not whole.degraded
        headcount = sources[SOCIAL].fetch([whole.credit_code])[whole.credit_code]["insured_headcount"]
        assert whole.score - part.score == social.points_for(headcount) - social.missing_points
    healthy.close()


def test_source_dying_mid_batch_fails_only_the_later_enterprises() -> None:
    codes = enterprises(1200)
    sources = feature_sources(codes)
    scorer = local_scorer(sources).with_sources([UnavailableSource(sources[TAX], answers_before_death=1)])
    batch = scorer.score(codes, purpose="PRE_LOAN_REVIEW", deadline_s=2.0)
    scored = [r.credit_code for r in batch.outcomes()]
    assert scored == codes[:500]  # the first chunk (chunk_size 500) arrived before the node died
    assert all(f.failed_sources == (TAX,) for f in batch.failures()) and len(batch.failures()) == 700
    scorer.close()


def test_hung_source_misses_its_deadline() -> None:
    codes = enterprises(2)
    sources = feature_sources(codes)
    release = threading.Event()
    scorer = local_scorer(sources).with_sources([BlockedSource(sources[TAX], release)])
    try:
        batch = scorer.score(codes, purpose="PRE_LOAN_REVIEW", deadline_s=0.05)
        assert [f.failed_sources for f in batch.failures()] == [(TAX,), (TAX,)]
    finally:
        release.set()
        scorer.close()
