"""WOE/IV against a plaintext reference, and the one sign convention."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.binning import BinningError
from models.woe import merge_counts, woe_table


def test_sign_convention_higher_woe_means_lower_risk() -> None:
    events = np.array([5.0, 20.0, 60.0])
    totals = np.array([100.0, 100.0, 100.0])
    table = woe_table(events, totals, smoothing=0.0)
    assert table.woe[0] > 0 > table.woe[2]  # the safest bin has the highest WOE
    assert np.all(np.diff(table.woe) < 0)
    assert np.all(np.diff(table.event_rates) > 0)


def test_woe_and_iv_match_the_textbook_formula() -> None:
    events = np.array([3.0, 10.0, 0.0, 7.0])
    totals = np.array([50.0, 40.0, 30.0, 20.0])
    s = 0.5
    table = woe_table(events, totals, smoothing=s)
    big_e, big_ne = events.sum() + 4 * s, (totals - events).sum() + 4 * s
    for k in range(4):
        pe = (events[k] + s) / big_e
        pne = (totals[k] - events[k] + s) / big_ne
        assert table.woe[k] == pytest.approx(math.log(pne / pe), abs=1e-12)
        assert table.iv_parts[k] == pytest.approx((pne - pe) * math.log(pne / pe), abs=1e-12)
    assert table.iv == pytest.approx(float(table.iv_parts.sum()))
    assert table.iv > 0


def test_empty_bins_are_neutral_and_zero_cells_need_smoothing() -> None:
    table = woe_table(np.array([2.0, 0.0, 3.0]), np.array([10.0, 0.0, 10.0]))
    assert table.woe[1] == 0.0 and table.iv_parts[1] == 0.0
    with pytest.raises(BinningError):
        woe_table(np.array([0.0, 3.0]), np.array([10.0, 10.0]), smoothing=0.0)


def test_merge_counts_sums_groups() -> None:
    assert merge_counts(np.array([1.0, 2.0, 3.0, 4.0]), [0, 0, 1, 2]).tolist() == [3.0, 3.0, 4.0]
