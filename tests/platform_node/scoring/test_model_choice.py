"""Which model answers a request (`[api.models]`) and the challenger shadow's record and report."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from sqlalchemy import create_engine

from platform_node.api.settings import ApiSettingsError, settings_from_mapping
from platform_node.scoring.challenger import ChallengerShadow, report
from platform_node.scoring.coalescing import CoalescingScorer
from platform_node.scoring.model_choice import ModelChoice, ModelChoiceError
from platform_node.scoring.party_stats import PartStats, PartyStatsStore
from platform_node.scoring.scorer import FailureCode, ScoreBatch, ScoreFailure, ScoreOutcome, grade_of


def test_a_purpose_gets_its_model_else_the_default_else_the_latest() -> None:
    choice = settings_from_mapping({"models": {"default": "sb-job-1", "PRE_LOAN_REVIEW": "lr-job-2",
                                               "challengers": {"PRE_LOAN_REVIEW": "sc-job-3"}}}).models
    assert choice.for_purpose("PRE_LOAN_REVIEW") == "lr-job-2" and choice.for_purpose("LOAN_APPROVAL") == "sb-job-1"
    assert choice.challenger("PRE_LOAN_REVIEW") == "sc-job-3" and choice.challenger("LOAN_APPROVAL") == ""
    assert settings_from_mapping({}).models == ModelChoice() and ModelChoice().for_purpose("X") == ""


@pytest.mark.parametrize("bad", [{"default": "../etc"}, {"pre_loan": "lr-1"}, {"PRE_LOAN_REVIEW": 3},
                                 {"challengers": "lr-1"}, {"challengers": {"x": "lr-1"}}, "lr-1"])
def test_malformed_model_tables_are_refused(bad) -> None:
    with pytest.raises(ModelChoiceError):
        ModelChoice.from_mapping(bad)
    with pytest.raises(ApiSettingsError):
        settings_from_mapping({"models": bad})


def test_training_aggregates_survive_a_restart_and_give_the_missing_share(tmp_path) -> None:
    store = PartyStatsStore(["source/a", "source/b"], tmp_path)
    assert store.missing_importance(1.0, ["source/a"], ["source/a", "source/b"]) == 1.0  # unknown: worst case
    store.keep("source/a", PartStats(0.5, 1.0))
    store.keep("source/b", PartStats(-0.2, 2.0))
    store.keep("source/b", PartStats(float("nan"), 2.0))  # refused, the last good one stays
    again = PartyStatsStore(["source/a", "source/b"], tmp_path)
    assert again.get("source/b") == PartStats(-0.2, 2.0)
    assert again.missing_importance(1.0, ["source/b"], ["source/a", "source/b"]) == pytest.approx(0.5)


class _Models:
    """A scorer that chooses among models: each model's PD is a fixed function of the code, so both models'
    answers are known; the challenger fails one enterprise."""

    chooses_models = True

    def __init__(self) -> None:
        self.asked: list[tuple[str, tuple[str, ...]]] = []

    def score(self, codes: Sequence[str], *, purpose: str, deadline_s: float, requester: str = "",
              model_id: str = "") -> ScoreBatch:
        self.asked.append((model_id, tuple(codes)))
        out = []
        for code in codes:
            k = int(code[-3:])
            if model_id == "challenger" and k == 0:
                out.append(ScoreFailure(code, FailureCode.SOURCE_UNAVAILABLE, "away", failed_sources=("source/a",)))
                continue
            pd = (k % 10) / 10 + (0.05 if model_id == "challenger" else 0.0)
            score = int(600 - 100 * pd)
            out.append(ScoreOutcome(code, pd, score, grade_of(score), (), model_id or "champion", "v1"))
        return ScoreBatch(tuple(out))


def test_the_challenger_is_scored_in_the_shadow_recorded_and_reported(tmp_path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'shadow.db'}")
    models = _Models()
    shadow = ChallengerShadow(engine, lambda: models, ModelChoice(challengers={"PRE_LOAN_REVIEW": "challenger"}),
                              deadline_s=1.0)
    codes = [f"91440300MA5F00{k:04d}" for k in range(20)]
    champion = models.score(codes, purpose="PRE_LOAN_REVIEW", deadline_s=1.0)
    answers = [(f"use-{k}", r) for k, r in enumerate(champion.results)]
    shadow.after(purpose="LOAN_APPROVAL", institution_id="bank/a", answers=answers)  # no challenger: nothing
    shadow.after(purpose="PRE_LOAN_REVIEW", institution_id="bank/a", answers=answers)
    shadow.close()
    assert [m for m, _ in models.asked] == ["", "challenger"]
    labels = {f"use-{k}": int(k % 10 >= 5) for k in range(1, 20, 2)}
    body = report(engine, "challenger", lambda ids: {i: labels[i] for i in ids if i in labels})
    assert (body["shadowed"], body["challenger_scored"], body["challenger_failed"]) == (20, 19, 1)
    assert body["champion_models"] == ["champion"] and body["purposes"] == ["PRE_LOAN_REVIEW"]
    champion_scores = np.array([int(600 - 100 * (k % 10) / 10) for k in range(1, 20)], dtype=float)
    assert body["champion_scores"]["mean"] == pytest.approx(champion_scores.mean())
    assert body["mean_score_difference"] < 0 and body["with_outcome"] == 10
    assert body["champion_auc"] == pytest.approx(1.0) and body["challenger_auc"] == pytest.approx(1.0)
    assert report(engine, "nobody", lambda ids: {})["shadowed"] == 0


def test_a_named_model_reaches_a_choosing_scorer_and_a_single_model_scorer_refuses_it() -> None:
    models = _Models()
    coalescing = CoalescingScorer(lambda: models)
    try:
        batch = coalescing.score(["91440300MA5F000001"], purpose="PRE_LOAN_REVIEW", deadline_s=1.0,
                                 model_id="challenger")
        assert batch.results[0].model_id == "challenger"
    finally:
        coalescing.close()

    class _One:
        def score(self, codes, *, purpose, deadline_s, requester=""):
            raise AssertionError("never asked for another model")

    single = CoalescingScorer(lambda: _One())
    try:
        with pytest.raises(Exception, match="one model"):
            single.score(["91440300MA5F000001"], purpose="PRE_LOAN_REVIEW", deadline_s=1.0, model_id="x")
    finally:
        single.close()
