from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.horizontal import AggregateRefusedError, BinEdges
from models.horizontal.aggregation import pack_contribution, unpack_aggregate
from models.horizontal.binning import local_quantiles


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.lists(st.floats(-100, 100), min_size=3, max_size=3), st.integers(1, 10_000)),
                min_size=2, max_size=5))
def test_unpacked_sum_is_the_count_weighted_mean(contributions):
    total = sum(pack_contribution(np.array(v), n) for v, n in contributions)
    agg = unpack_aggregate(total, 3, min_contributors=2)
    weights = np.array([n for _, n in contributions], dtype=float)
    expected = np.average(np.array([v for v, _ in contributions]), axis=0, weights=weights)
    assert agg.contributors == len(contributions)
    assert agg.total_weight == pytest.approx(weights.sum())
    assert np.allclose(agg.mean, expected, atol=1e-9)


def test_a_single_banks_contribution_is_refused_as_an_aggregate():
    alone = pack_contribution(np.array([0.5, -0.5]), 800)
    with pytest.raises(AggregateRefusedError) as err:
        unpack_aggregate(alone, 2, min_contributors=2)
    assert err.value.found == 1.0


def test_a_non_integer_contribution_count_is_refused():
    doctored = pack_contribution(np.array([1.0]), 10) * 2.5
    with pytest.raises(AggregateRefusedError):
        unpack_aggregate(doctored, 1, min_contributors=2)


def test_expand_has_one_indicator_at_most_per_variable_and_the_declared_width():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(500, 4))
    edges = BinEdges.from_quantiles(local_quantiles(x, 10))
    expanded = edges.expand(x)
    assert expanded.shape == (500, edges.width) == (500, 4 + 4 * 9)
    assert np.array_equal(expanded[:, :4], x)
    start = 4
    for e in edges.edges:
        block = expanded[:, start:start + len(e)]
        assert set(np.unique(block)) <= {0.0, 1.0} and block.sum(axis=1).max() <= 1
        # rows below the first edge are the reference bin: no indicator
        assert np.all(block[x[:, edges.edges.index(e)] < e[0]].sum(axis=1) == 0)
        start += len(e)


def test_a_value_on_an_edge_falls_into_the_upper_bin():
    edges = BinEdges(((0.0, 1.0),))
    assert edges.expand(np.array([[0.0], [1.0], [-0.1]]))[:, 1:].tolist() == [[1, 0], [0, 1], [0, 0]]


def test_ties_in_a_discrete_variable_collapse_despite_ckks_noise():
    quantiles = np.array([[0.0], [0.0 + 3e-9], [1.0], [1.0 - 2e-9]])
    assert BinEdges.from_quantiles(quantiles).edges == ((0.0, 1.0),)
