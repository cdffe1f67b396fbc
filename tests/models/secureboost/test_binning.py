"""Local quantile bins: the lookup-table rule x < threshold is exactly "bin <= k"; missing values get their bin."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.secureboost import FeatureBins, FeatureTable, InvalidDataError


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), bins=st.integers(2, 40), distinct=st.integers(1, 80))
def test_threshold_rule_matches_bins(seed: int, bins: int, distinct: int) -> None:
    rng = np.random.default_rng(seed)
    values = rng.choice(rng.normal(size=distinct), size=200)
    values[rng.random(200) < 0.1] = np.nan
    table = FeatureTable(("x",), values[:, None])
    fitted = FeatureBins.fit(table, bins)
    binned = fitted.transform(table)[:, 0]
    assert fitted.n_bins(0) <= bins
    present = ~np.isnan(values)
    assert np.all(binned[~present] == fitted.n_bins(0))
    assert np.all(binned[present] < fitted.n_bins(0))
    for k in range(fitted.n_bins(0) - 1):
        threshold = fitted.threshold(0, k)
        assert np.array_equal(values[present] < threshold, binned[present] <= k)
    assert np.all(np.bincount(binned[present], minlength=fitted.n_bins(0)) > 0)  # no empty real bin


def test_missing_only_rule_sends_no_real_value_left() -> None:
    fitted = FeatureBins.fit(FeatureTable(("x",), np.array([[1.0], [np.nan], [2.0]])), 4)
    assert fitted.has_missing == (True,)
    assert fitted.threshold(0, -1) == float("-inf")


def test_feature_tables_refuse_bad_shapes_and_values() -> None:
    with pytest.raises(InvalidDataError):
        FeatureTable(("a", "b"), np.zeros((3, 3)))
    with pytest.raises(InvalidDataError):
        FeatureTable(("a", "a"), np.zeros((3, 2)))
    with pytest.raises(InvalidDataError):
        FeatureTable(("a",), np.array([[np.inf]]))
    with pytest.raises(InvalidDataError):
        FeatureBins.fit(FeatureTable(("a",), np.zeros((3, 1))), 1)
