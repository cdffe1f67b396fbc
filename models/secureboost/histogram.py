"""Per-node bin sums and the split candidates a party derives from them (backend-agnostic).

A node's flat histogram holds, for every feature used by the tree, its real bins followed by one
missing-value bin. Candidates are cumulative sums: "bins 0..k go left" (missing right) and, for features
that have missing values, "missing and bins 0..k go left". Each candidate is one (gradient, hessian) sum,
so the active party can score it without knowing its feature, its bin order or its neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from models.secureboost import cell_plan
from models.secureboost.binning import FeatureBins
from models.secureboost.cipher import HistogramEvaluator, Vector
from models.secureboost.split_ids import split_id


@dataclass(frozen=True)
class Candidate:
    """What a split id means to its owner: feature (column index), last bin on the left, missing side."""

    feature: int
    last_left_bin: int
    missing_left: bool


@dataclass(frozen=True)
class BinLayout:
    """Where each selected feature's bins sit in a node's flat histogram."""

    features: np.ndarray  # selected feature columns, ascending
    n_bins: np.ndarray    # real bins of each selected feature
    offsets: np.ndarray   # start of each block (real bins, then the missing bin)
    total: int

    @classmethod
    def select(cls, bins: FeatureBins, features: np.ndarray) -> BinLayout:
        features = np.asarray(features, dtype=np.int64)
        n_bins = np.array([bins.n_bins(int(f)) for f in features], dtype=np.int64)
        sizes = n_bins + 1
        offsets = np.r_[0, np.cumsum(sizes)[:-1]].astype(np.int64) if sizes.size else np.empty(0, np.int64)
        return cls(features, n_bins, offsets, int(sizes.sum()))

    def flat_bins(self, binned_rows: np.ndarray) -> np.ndarray:
        """Flat histogram index of every (row, selected feature), row-major."""
        return (binned_rows[:, self.features].astype(np.int64) + self.offsets).ravel()


@dataclass
class NodeHistogram:
    """A node's per-bin sums (opaque) and per-bin counts of its sampled rows (plain, the owner's own)."""

    sums: Vector
    counts: np.ndarray


class ColumnHistograms(Protocol):
    """Node histograms computed elsewhere, by feature columns (a party's own Ray cluster: column_workers.py);
    the result must equal `build`."""

    def setup(self, public_key: bytes, binned: np.ndarray, *, allow_insecure_for_tests: bool = False) -> None: ...

    def start_tree(self, vector: Vector, value_bytes: int) -> None: ...

    def build(self, evaluator: HistogramEvaluator, positions: np.ndarray, rows: np.ndarray, binned_rows: np.ndarray,
              layout: BinLayout) -> NodeHistogram: ...


def _bin_columns(layout: BinLayout, binned_rows: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """The rows' bin of every block (one column each) and each block's number of bins."""
    return binned_rows[:, layout.features].astype(np.int64), (layout.n_bins + 1).tolist()


def plan_for(layout: BinLayout, binned_rows: np.ndarray) -> list[cell_plan.CellGroup]:
    """The joint-cell plan for a node's rows (see `build`)."""
    return cell_plan.plan_cells(*_bin_columns(layout, binned_rows))


def build(evaluator: HistogramEvaluator, vector: Vector, positions: np.ndarray, binned_rows: np.ndarray,
          layout: BinLayout, plan: list[cell_plan.CellGroup] | None = None) -> NodeHistogram:
    """Sum the node's sampled rows into bins (`positions` index the gradient vector, one per row).

    With an evaluator whose additions are ciphertext products (`joint_cells`), features are summed through
    the joint cells of `cell_plan` (`plan`, made for these rows if not given): each row is multiplied once
    per group of features and each feature's histogram is read off the occupied cells (the root of
    default_credit: half the products of summing two features at a time). The plain backend sums feature
    by feature with numpy.
    """
    columns, sizes = _bin_columns(layout, binned_rows)
    if evaluator.joint_cells:
        plan = plan if plan is not None else cell_plan.plan_cells(columns, sizes)
        blocks = cell_plan.sum_by_plan(evaluator, vector, positions, columns, sizes, plan)
    else:
        blocks = [evaluator.bucket_sum(vector, positions, columns[:, i], sizes[i]) for i in range(len(sizes))]
    counts = np.bincount(layout.flat_bins(binned_rows), minlength=layout.total).astype(np.int64)
    return NodeHistogram(evaluator.concat(blocks), counts)


def derive(evaluator: HistogramEvaluator, parent: NodeHistogram, sibling: NodeHistogram) -> NodeHistogram:
    """Histogram subtraction: the larger child costs one subtraction per bin instead of a pass over rows."""
    return NodeHistogram(evaluator.sub(parent.sums, sibling.sums), parent.counts - sibling.counts)


@dataclass(frozen=True)
class NodeCandidateSet:
    """Candidates of one node, ordered by split id (ascending), with their sums in the same order."""

    ids: np.ndarray
    sums: Vector
    meaning: dict[int, Candidate]


def candidates(evaluator: HistogramEvaluator, hist: NodeHistogram, layout: BinLayout, bins: FeatureBins,
               names: tuple[str, ...], key: bytes, tree: int, node: int) -> NodeCandidateSet:
    """Every distinct, non-trivial split of the node's sampled rows, as opaque ids and cumulative sums.

    Duplicates (an empty bin repeats its predecessor's partition) are dropped, keeping the lowest bin, as
    XGBoost's forward scan does; so are splits with an empty side.
    """
    counts = hist.counts
    right_at, left_miss_at, miss_at, only_miss_at = [], [], [], []
    right, left_miss, only_miss = [], [], []
    for i, f in enumerate(layout.features.tolist()):
        off, n = int(layout.offsets[i]), int(layout.n_bins[i])
        real = counts[off:off + n]
        missing = int(counts[off + n])
        total = int(real.sum()) + missing
        prefix = np.cumsum(real)
        ks = np.flatnonzero((real[:-1] > 0) & (prefix[:-1] < total))
        right_at.extend((off + ks).tolist())
        right.extend(Candidate(f, int(k), False) for k in ks)
        if bins.has_missing[f] and missing > 0 and total > missing:
            ks = np.flatnonzero((real[:-1] > 0) & (prefix[:-1] + missing < total))
            left_miss_at.extend((off + ks).tolist())
            miss_at.extend([off + n] * ks.size)
            left_miss.extend(Candidate(f, int(k), True) for k in ks)
            only_miss_at.append(off + n)
            only_miss.append(Candidate(f, -1, True))
    meaning = right + left_miss + only_miss
    cumulative = evaluator.segment_cumsum(hist.sums, layout.offsets)
    parts = [evaluator.take(cumulative, np.asarray(right_at, dtype=np.int64))]
    if left_miss_at:
        parts.append(evaluator.add(evaluator.take(cumulative, np.asarray(left_miss_at, dtype=np.int64)),
                                   evaluator.take(hist.sums, np.asarray(miss_at, dtype=np.int64))))
    if only_miss_at:
        parts.append(evaluator.take(hist.sums, np.asarray(only_miss_at, dtype=np.int64)))
    sums = evaluator.concat(parts)
    ids = np.array([split_id(key, tree, node, names[c.feature], c.last_left_bin, c.missing_left) for c in meaning],
                   dtype=np.uint64)
    order = np.argsort(ids, kind="stable")
    ids = ids[order]
    if ids.size > 1 and np.any(ids[1:] == ids[:-1]):
        raise RuntimeError("split id collision (probability 2^-64 per pair): retry the node with a new key")
    return NodeCandidateSet(ids, evaluator.take(sums, order), {int(ids[j]): meaning[int(order[j])]
                                                               for j in range(ids.size)})
