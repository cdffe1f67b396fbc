"""Scorecard scaling, points tables, reason codes, distributed scoring and the evaluation report."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest

from federation.channel import InMemoryHub
from models.binning import VariableBins
from models.hetero_lr import LrModel
from models.metrics import auc, psi
from models.scorecard import (
    PartyScorecard,
    ReasonCode,
    ScorecardError,
    ScorecardParams,
    ScorecardReport,
    TableLookup,
    base_points,
    rank_reasons,
    request_scores,
    serve_points,
)
from models.woe import OwnedVariable

PLATFORM, TAX, POWER = "platform/main", "source/tax", "source/power"


def test_scaling_pdo_base_score_and_base_odds() -> None:
    p = ScorecardParams(pdo=20, base_score=600, base_odds=50)
    assert p.factor == pytest.approx(20 / math.log(2))
    assert p.score(math.log(50)) == pytest.approx(600)
    assert p.score(math.log(100)) == pytest.approx(620)  # odds doubled: + pdo
    assert p.probability_of_default(600) == pytest.approx(1 / 51)
    with pytest.raises(ScorecardError):
        ScorecardParams(max_reasons=5)


def _variable(name: str, category: str, cuts: tuple[float, ...], woe: list[float]) -> OwnedVariable:
    return OwnedVariable(name, name, category, VariableBins(cuts), np.array(woe), 0.1, 1, True)


def _card(names: list[str], category: str, rng: np.random.Generator, params: ScorecardParams
          ) -> tuple[PartyScorecard, list[OwnedVariable], LrModel]:
    variables = [_variable(n, category, (-0.5, 0.5), list(rng.normal(0, 0.6, 3))) for n in names]
    model = LrModel(tuple(names), -rng.uniform(0.3, 1.0, len(names)))
    return PartyScorecard.from_model(variables, model, params), variables, model


def test_score_is_the_scaled_log_odds_of_the_woe_model() -> None:
    params = ScorecardParams()
    rng = np.random.default_rng(0)
    card, variables, model = _card(["a", "b"], "platform", rng, params)
    guest = LrModel(model.variables, model.weights, intercept=-1.3)
    x = {"a": rng.normal(size=50), "b": rng.normal(size=50)}
    woe = np.column_stack([v.transform(x[v.name]) for v in variables])
    log_odds_default = guest.intercept + woe @ guest.weights
    score = base_points(guest, params) + card.score(x).points
    assert np.allclose(score, params.offset - params.factor * log_odds_default)
    # The bin with the highest WOE gives the most points when beta < 0 (WOE sign convention).
    for v, beta in zip(card.variables, model.weights, strict=True):
        assert beta < 0 and int(np.argmax(v.points)) == int(np.argmax(variables[[x.name for x in variables].index(v.name)].woe))
    assert len(card.variables[0].describe()) == 3


def test_reason_codes_are_the_four_largest_losses() -> None:
    candidates = [ReasonCode(c, lost, own) for c, lost, own in
                  [("a", 5.0, True), ("b", 0.0, True), ("t:tax", 9.0, False), ("c", 7.0, True), ("d", 1.0, True),
                   ("e", 3.0, True)]]
    ranked = rank_reasons(candidates, 4)
    assert [r.code for r in ranked] == ["t:tax", "c", "a", "e"]
    assert all(r.points_lost > 0 for r in rank_reasons(candidates, 4))


def test_distributed_scoring_sums_parties_and_hides_other_variables() -> None:
    params = ScorecardParams()
    rng = np.random.default_rng(4)
    own, _, guest_model = _card(["age", "delay"], "platform", rng, params)
    tax_card, _, _ = _card(["paid", "filings", "arrears"], "tax", rng, params)
    power_card, _, _ = _card(["kwh"], "utilities", rng, params)
    ids = [f"E{i:03d}" for i in range(40)]
    data = {name: {v.name: rng.normal(size=40) for v in card.variables}
            for name, card in [(PLATFORM, own), (TAX, tax_card), (POWER, power_card)]}
    held = ids[:30]  # the power unit only knows 30 of the enterprises
    hub = InMemoryHub((PLATFORM, TAX, POWER))
    base = base_points(LrModel(guest_model.variables, guest_model.weights, -1.0), params)
    served: dict[str, int] = {}
    threads = [
        threading.Thread(target=lambda: served.__setitem__(TAX, serve_points(
            hub.channel(TAX), PLATFORM, card=tax_card, lookup=TableLookup(ids, data[TAX]), batch="1", timeout=10))),
        threading.Thread(target=lambda: served.__setitem__(POWER, serve_points(
            hub.channel(POWER), PLATFORM, card=power_card,
            lookup=TableLookup(held, {k: v[:30] for k, v in data[POWER].items()}), batch="1", timeout=10))),
    ]
    for t in threads:
        t.start()
    scores = request_scores(hub.channel(PLATFORM), [TAX, POWER], ids=ids, params=params, base=base, own=own,
                            own_features=data[PLATFORM], batch="1", timeout=10)
    for t in threads:
        t.join(10)
    assert served == {TAX: 40, POWER: 30}
    expected = (base + own.score(data[PLATFORM]).points + tax_card.score(data[TAX]).points
                + np.r_[power_card.score({k: v[:30] for k, v in data[POWER].items()}).points, np.zeros(10)])
    assert np.allclose([s.score for s in scores], expected)
    own_names = {v.name for v in own.variables}
    for s in scores:
        assert 1 <= len(s.reasons) <= 4
        assert [r.points_lost for r in s.reasons] == sorted((r.points_lost for r in s.reasons), reverse=True)
        for r in s.reasons:
            assert (r.code in own_names) if r.own else r.code in {f"{TAX}:tax", f"{POWER}:utilities"}
        assert s.probability_of_default == pytest.approx(params.probability_of_default(s.score))
    assert all(not r.code.startswith(POWER) for s in scores[30:] for r in s.reasons)


def test_evaluation_report_uses_risk_direction_and_psi() -> None:
    rng = np.random.default_rng(2)
    y = (rng.random(2000) < 0.2).astype(float)
    scores = 600 - 40 * y + rng.normal(0, 30, 2000)  # defaulters score lower
    report = ScorecardReport.of(y, scores, reference_scores=scores[::-1])
    assert report.discrimination.auc == pytest.approx(auc(y, -scores))
    assert report.discrimination.auc > 0.7
    assert report.discrimination.gini == pytest.approx(2 * report.discrimination.auc - 1)
    assert report.psi == pytest.approx(psi(scores[::-1], scores))
    assert ScorecardReport.of(y, scores).psi is None
