"""Stored scorecard / LR parts: a round trip keeps the points and scaling; bad files are refused by type."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.binning import VariableBins
from models.hetero_lr import LrModel
from models.scorecard import ScorecardParams
from models.scorecard.stored import (
    StoredPartError,
    party_scorecard,
    placeable,
    read_part,
    scaling,
    scorecard_part,
    write_part,
)
from models.woe import OwnedVariable


def _variables() -> list[OwnedVariable]:
    return [OwnedVariable("debt", "v0", "credit", VariableBins((1.0, 2.0), True), np.array([0.5, 0.0, -0.7, 0.2]),
                          0.3, 1, True),
            OwnedVariable("age", "v1", "profile", VariableBins((30.0,), False), np.array([-0.2, 0.1]), 0.05, 2, True)]


def test_guest_part_round_trip_keeps_points_and_scaling(tmp_path: Path) -> None:
    model = LrModel(("debt", "age"), np.array([-0.8, -0.4]), intercept=-2.0)
    params = ScorecardParams(pdo=40, base_score=500, base_odds=20)
    digest = write_part(tmp_path / "p.bin", scorecard_part("platform/main", _variables(), model, params, guest=True))
    part = read_part(tmp_path / "p.bin", "scorecard")
    assert len(digest) == 64 and scaling(part) == params
    assert part.base_points == pytest.approx(params.offset - params.factor * model.intercept)
    card = party_scorecard(part)
    x = {"debt": np.array([0.5, 1.5, 3.0, np.nan]), "age": np.array([20.0, 40.0, np.nan, 35.0])}
    points = card.score(placeable(card, x)).points
    woe = np.array([[0.5, -0.2], [0.0, 0.1], [-0.7, -0.2], [0.2, 0.1]])  # age NaN -> bin of its middle cut
    assert points == pytest.approx(-params.factor * woe @ model.weights)
    # score = base + points = offset + factor * ln(good:bad), the LR's log-odds negated
    logit = model.intercept + woe @ model.weights
    assert part.base_points + points == pytest.approx(params.offset - params.factor * logit)


def test_read_part_refuses_other_kinds_and_garbage(tmp_path: Path) -> None:
    model = LrModel(("debt", "age"), np.array([0.1, 0.2]))
    write_part(tmp_path / "s.bin", scorecard_part("source/tax", _variables(), model, ScorecardParams(), guest=False))
    with pytest.raises(StoredPartError):
        read_part(tmp_path / "s.bin", "hetero_lr")
    (tmp_path / "g.bin").write_bytes(b"\xff\xff not a message")
    with pytest.raises(StoredPartError):
        read_part(tmp_path / "g.bin")
    with pytest.raises(StoredPartError):
        read_part(tmp_path / "missing.bin")
