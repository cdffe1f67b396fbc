"""Joint-cell plans: exact sums whatever the plan, and never more products than feature-by-feature summing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.secureboost import FeatureBins, FeatureTable, PlainEvaluator, cell_plan
from models.secureboost import histogram as hist


class CountingEvaluator(PlainEvaluator):
    """The plain backend with joint cells on, counting what would be ciphertext products."""

    joint_cells = True

    def __init__(self) -> None:
        super().__init__()
        self.products = 0

    def bucket_sum(self, vector, positions, buckets, n_buckets):  # type: ignore[no-untyped-def]
        self.products += int(positions.size)
        return super().bucket_sum(vector, positions, buckets, n_buckets)


def _reference(G: np.ndarray, columns: np.ndarray, sizes: list[int]) -> list[list[int]]:
    return [[int(G[columns[:, f] == b].sum()) for b in range(sizes[f])] for f in range(len(sizes))]


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 400), sizes=st.lists(st.integers(1, 12), min_size=1, max_size=7),
       seed=st.integers(0, 2**32 - 1), correlated=st.booleans())
def test_plan_sums_are_exact_and_never_cost_more(rows: int, sizes: list[int], seed: int, correlated: bool) -> None:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 1000, rows)
    columns = np.column_stack([(base // (f + 1)) % s if correlated else rng.integers(0, s, rows)
                               for f, s in enumerate(sizes)]).astype(np.int64)
    G = rng.integers(-10**6, 10**6, rows)
    evaluator = CountingEvaluator()
    vector = evaluator.from_pairs(G, np.abs(G))
    plan = cell_plan.plan_cells(columns, sizes)
    assert sorted(f for g in plan for f in g.features) == list(range(len(sizes)))
    blocks = cell_plan.sum_by_plan(evaluator, vector, np.arange(rows), columns, sizes, plan)
    assert [b.G.tolist() for b in blocks] == _reference(G, columns, sizes)
    assert evaluator.products == cell_plan.plan_products(plan, rows) <= rows * len(sizes)


def test_correlated_features_need_far_fewer_products() -> None:
    rng = np.random.default_rng(3)
    status = rng.integers(0, 11, 5000)
    # Five payment-status-like columns that mostly repeat each other, and one independent column.
    columns = np.column_stack([np.where(rng.random(5000) < 0.8, status, rng.integers(0, 11, 5000)) for _ in range(5)]
                              + [rng.integers(0, 30, 5000)]).astype(np.int64)
    plan = cell_plan.plan_cells(columns, [11] * 5 + [30])
    assert cell_plan.plan_products(plan, 5000) < 0.5 * 6 * 5000


@pytest.mark.parametrize("rows", [40, 3000])
def test_build_with_joint_cells_equals_feature_by_feature(rows: int) -> None:
    rng = np.random.default_rng(rows)
    values = np.round(rng.normal(size=(rows, 6)) * 2)
    values[rng.random(values.shape) < 0.1] = np.nan
    table = FeatureTable(tuple(f"f{i}" for i in range(6)), values)
    bins = FeatureBins.fit(table, 8)
    binned = bins.transform(table)
    layout = hist.BinLayout.select(bins, np.array([0, 1, 2, 4, 5]))
    G, H = rng.integers(-1000, 1000, rows), rng.integers(0, 1000, rows)
    keep = np.flatnonzero(rng.random(rows) < 0.7)
    plain, joint = PlainEvaluator(), CountingEvaluator()
    expected = hist.build(plain, plain.from_pairs(G, H), keep, binned[keep], layout)
    built = hist.build(joint, joint.from_pairs(G, H), keep, binned[keep], layout)
    assert built.sums.G.tolist() == expected.sums.G.tolist()
    assert built.sums.H.tolist() == expected.sums.H.tolist()
    assert built.counts.tolist() == expected.counts.tolist()
    assert 0 < joint.products <= keep.size * 5
