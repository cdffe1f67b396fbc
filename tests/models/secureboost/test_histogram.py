"""Node histograms and candidates against a direct integer reference."""

from __future__ import annotations

import numpy as np
import pytest

from models.secureboost import FeatureBins, FeatureTable, PlainEvaluator
from models.secureboost import histogram as hist


@pytest.mark.parametrize("rows", [40, 3000])  # few rows: feature by feature; many rows: joint pair cells
def test_bin_sums_equal_the_reference(rows: int) -> None:
    rng = np.random.default_rng(rows)
    values = rng.normal(size=(rows, 5))
    values[rng.random(values.shape) < 0.1] = np.nan
    table = FeatureTable(tuple(f"f{i}" for i in range(5)), values)
    bins = FeatureBins.fit(table, 8)
    binned = bins.transform(table)
    layout = hist.BinLayout.select(bins, np.array([0, 1, 3, 4]))
    G, H = rng.integers(-1000, 1000, rows), rng.integers(0, 1000, rows)
    evaluator = PlainEvaluator()
    vector = evaluator.from_pairs(G, H)
    keep = np.flatnonzero(rng.random(rows) < 0.7)
    built = hist.build(evaluator, vector, keep, binned[keep], layout)
    flat = layout.flat_bins(binned[keep])
    expected = np.zeros(layout.total, dtype=np.int64)
    np.add.at(expected, flat, np.repeat(G[keep], 4))
    assert built.sums.G.tolist() == expected.tolist()
    assert built.counts.tolist() == np.bincount(flat, minlength=layout.total).tolist()


def test_candidates_are_distinct_partitions_with_exact_left_sums() -> None:
    rng = np.random.default_rng(1)
    values = np.round(rng.normal(size=(200, 2)) * 2)
    values[rng.random(values.shape) < 0.2] = np.nan
    table = FeatureTable(("a", "b"), values)
    bins = FeatureBins.fit(table, 6)
    binned = bins.transform(table)
    layout = hist.BinLayout.select(bins, np.array([0, 1]))
    G = rng.integers(-50, 50, 200)
    evaluator = PlainEvaluator()
    built = hist.build(evaluator, evaluator.from_pairs(G, np.abs(G)), np.arange(200), binned, layout)
    found = hist.candidates(evaluator, built, layout, bins, table.names, b"k" * 32, tree=0, node=0)
    assert np.all(np.diff(found.ids.astype(np.float64)) > 0)
    partitions = set()
    for j, sid in enumerate(found.ids.tolist()):
        c = found.meaning[sid]
        column = values[:, c.feature]
        goes_left = np.where(np.isnan(column), c.missing_left, column < bins.threshold(c.feature, c.last_left_bin))
        assert 0 < goes_left.sum() < 200
        assert found.sums.G[j] == G[goes_left].sum()
        partitions.add((c.feature, goes_left.tobytes()))
    assert len(partitions) == found.ids.size
