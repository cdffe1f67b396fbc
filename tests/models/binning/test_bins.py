"""Quantile bins, assignment, merges and merge plans (monotone event rate, minimum bin size)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.binning import BinningError, MergeRule, Monotonicity, VariableBins, plan_merges


def test_quantile_bins_are_equal_frequency_and_right_closed() -> None:
    values = np.arange(1.0, 101.0)
    bins = VariableBins.quantile(values, 4)
    assert bins.n_bins == 4 and not bins.has_missing
    counts = np.bincount(bins.assign(values))
    assert counts.tolist() == [25, 25, 25, 25]
    # A value equal to a cut point belongs to the lower bin.
    assert bins.assign(np.array([bins.cuts[0]]))[0] == 0


def test_ties_collapse_bins_and_missing_values_get_their_own_bin() -> None:
    values = np.array([0.0] * 80 + [1.0] * 20 + [np.nan] * 5)
    bins = VariableBins.quantile(values, 10)
    assert bins.has_missing and bins.value_bins == 2 and bins.missing_bin == 2
    assert np.bincount(bins.assign(values)).tolist() == [80, 20, 5]
    with pytest.raises(BinningError):
        VariableBins((0.5,)).assign(np.array([np.nan]))


def test_merged_drops_the_cuts_between_merged_bins() -> None:
    bins = VariableBins((1.0, 2.0, 3.0), has_missing=True)
    merged = bins.merged([0, 0, 1, 1, 2])
    assert merged.cuts == (2.0,) and merged.has_missing
    values = np.array([0.5, 1.5, 2.5, 3.5, np.nan])
    assert merged.assign(values).tolist() == [0, 0, 1, 1, 2]
    with pytest.raises(BinningError):
        bins.merged([0, 2, 2, 2, 3])  # skips an index
    with pytest.raises(BinningError):
        bins.merged([0, 1, 2, 3, 3])  # merges the missing bin


def _rates(events: np.ndarray, totals: np.ndarray, plan: list[int]) -> np.ndarray:
    groups = np.asarray(plan)
    e = np.bincount(groups, weights=events)
    t = np.bincount(groups, weights=totals)
    return e / t


@given(st.lists(st.tuples(st.integers(0, 50), st.integers(1, 200)), min_size=1, max_size=20),
       st.sampled_from([Monotonicity.INCREASING, Monotonicity.DECREASING, Monotonicity.AUTO]))
@settings(max_examples=60, deadline=None)
def test_monotone_plans_are_contiguous_and_monotone(cells: list[tuple[int, int]], shape: Monotonicity) -> None:
    totals = np.array([t for _, t in cells], dtype=float)
    events = np.array([min(e, t) for e, t in cells], dtype=float)
    plan = plan_merges(events, totals, MergeRule(shape, min_bin_fraction=0.0, min_bin_rows=0))
    assert plan[0] == 0 and all(b - a in (0, 1) for a, b in zip(plan, plan[1:], strict=False))
    diffs = np.diff(_rates(events, totals, plan))
    if shape is Monotonicity.INCREASING:
        assert np.all(diffs >= -1e-12)
    elif shape is Monotonicity.DECREASING:
        assert np.all(diffs <= 1e-12)
    else:
        assert np.all(diffs >= -1e-12) or np.all(diffs <= 1e-12)


def test_pool_adjacent_violators_on_a_known_sequence() -> None:
    events = np.array([1, 5, 3, 8, 9.0])
    totals = np.full(5, 10.0)
    plan = plan_merges(events, totals, MergeRule(Monotonicity.INCREASING, min_bin_fraction=0.0))
    assert plan == [0, 1, 1, 2, 3]  # 0.5 > 0.3 pools bins 1 and 2 at rate 0.4


def test_minimum_bin_size_merges_small_bins_and_keeps_the_missing_bin() -> None:
    events = np.array([1, 2, 30, 40, 3.0])
    totals = np.array([10, 10, 100, 100, 4.0])
    plan = plan_merges(events, totals, MergeRule(Monotonicity.NONE, min_bin_fraction=0.1), has_missing=True)
    groups = np.asarray(plan[:-1])
    sizes = np.bincount(groups, weights=totals[:-1])
    assert sizes.min() >= 0.1 * totals[:-1].sum()
    assert plan[-1] == groups.max() + 1


def test_noisy_counts_are_clipped() -> None:
    plan = plan_merges(np.array([-3.0, 12.0]), np.array([10.0, 10.0]),
                       MergeRule(Monotonicity.INCREASING, min_bin_fraction=0.0))
    assert plan == [0, 1]
