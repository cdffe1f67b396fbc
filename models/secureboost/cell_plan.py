"""Which features a passive party sums together: joint cells that cut a node's ciphertext products.

Summing one feature's histogram over a node costs one ciphertext product per row. Taking a group of
features at once, each row is multiplied once into the joint cell of its bins, and every feature's
histogram is then read off the occupied cells, which are far fewer than the rows when features have few
bins or move together (default_credit's payment-status columns). A group can also be read off in two
steps: first the cells of two subgroups from the group's cells, then each subgroup's features. The
planner merges groups greedily while that lowers the node's product count, so a plan never costs more
than feature-by-feature summing. Whatever the plan, each bin sum is the product of the same ciphertexts
(in another order), so the plan changes the cost, never a sum or the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.secureboost.cipher import HistogramEvaluator, Vector

# Occupied cells are counted with a bincount while the key space stays this small, by sorting beyond.
_BINCOUNT_SPACE = 1 << 20


@dataclass(frozen=True, eq=False)
class CellGroup:
    """Features (block indices of the node's layout) summed through their joint cells over the node's rows.

    `labels[r]` is row r's cell (dense, 0..occupied-1; a single feature's labels are its bins), `first[c]`
    a row of cell c. `parts` are the two groups merged into this one; `split` says whether the features
    are read off through the parts' cells (True) or every feature straight from this group's cells.
    """

    features: tuple[int, ...]
    labels: np.ndarray
    span: int            # labels lie in [0, span)
    occupied: int        # distinct labels
    first: np.ndarray
    readout: int         # products to read every feature's histogram off this group's cells
    parts: tuple[CellGroup, CellGroup] | None = None
    split: bool = False


def _occupied(keys: np.ndarray, space: int) -> int:
    if space <= max(_BINCOUNT_SPACE, 4 * keys.size):
        return int(np.count_nonzero(np.bincount(keys, minlength=space)))
    return int(np.unique(keys).size)


def _dense(keys: np.ndarray, space: int) -> tuple[np.ndarray, np.ndarray]:
    """Dense labels of `keys` (0..distinct-1, in key order) and one row of each label."""
    if space <= max(_BINCOUNT_SPACE, 4 * keys.size):
        present = np.bincount(keys, minlength=space) > 0
        labels = (np.cumsum(present) - 1)[keys]
        first = np.empty(int(present.sum()), dtype=np.int64)
        first[labels] = np.arange(keys.size, dtype=np.int64)  # any row of the cell will do
        return labels, first
    _, first, labels = np.unique(keys, return_index=True, return_inverse=True)
    return labels.astype(np.int64).ravel(), first.astype(np.int64)


def _single(columns: np.ndarray, j: int, size: int) -> CellGroup:
    labels = np.ascontiguousarray(columns[:, j])
    return CellGroup((j,), labels, size, _occupied(labels, size), np.empty(0, np.int64), 0)


def _merge(a: CellGroup, b: CellGroup) -> tuple[int, int, bool]:
    """Occupied cells of a + b, the products to read its features off, and whether to go through a, b."""
    occupied = _occupied(a.labels * b.span + b.labels, a.span * b.span)
    direct = (len(a.features) + len(b.features)) * occupied
    through = 2 * occupied + a.readout + b.readout
    return occupied, min(direct, through), through < direct


def plan_cells(columns: np.ndarray, sizes: list[int]) -> list[CellGroup]:
    """Greedy plan for a node: `columns` are its rows' bins (one column per block), `sizes` the blocks' bins.

    Each top-level group costs one product per row, plus its `readout` for a group of several features.
    Two groups merge when that saves products; the cheapest merge is taken first.
    """
    rows = columns.shape[0]
    groups = [_single(columns, j, sizes[j]) for j in range(columns.shape[1])]
    scores: dict[tuple[int, int], tuple[int, int, bool]] = {}
    while len(groups) > 1:
        best: tuple[int, int, int] | None = None  # (saving, i, j)
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                key = (id(groups[i]), id(groups[j]))
                if key not in scores:
                    scores[key] = _merge(groups[i], groups[j])
                _, readout, _ = scores[key]
                saving = rows + groups[i].readout + groups[j].readout - readout
                if saving > 0 and (best is None or saving > best[0]):
                    best = (saving, i, j)
        if best is None:
            break
        _, i, j = best
        a, b = groups[i], groups[j]
        _, readout, split = scores[(id(a), id(b))]
        labels, first = _dense(a.labels * b.span + b.labels, a.span * b.span)
        merged = CellGroup(a.features + b.features, labels, int(first.size), int(first.size), first, readout,
                           (a, b), split)
        groups = [g for k, g in enumerate(groups) if k not in (i, j)] + [merged]
    return groups


def plan_products(plan: list[CellGroup], rows: int) -> int:
    """Ciphertext products the plan costs for a node of `rows` rows."""
    return sum(rows + g.readout for g in plan)


def sum_by_plan(evaluator: HistogramEvaluator, vector: Vector, positions: np.ndarray, columns: np.ndarray,
                sizes: list[int], plan: list[CellGroup]) -> list[Vector]:
    """Every block's per-bin sums, in block order, computed along `plan`."""
    blocks: dict[int, Vector] = {}

    def read_off(group: CellGroup, cells: Vector) -> None:
        index = np.arange(group.occupied, dtype=np.int64)
        if not group.split:
            for f in group.features:
                blocks[f] = evaluator.bucket_sum(cells, index, columns[group.first, f], sizes[f])
            return
        assert group.parts is not None
        for part in group.parts:
            part_labels = part.labels[group.first]
            if len(part.features) == 1:
                blocks[part.features[0]] = evaluator.bucket_sum(cells, index, part_labels, sizes[part.features[0]])
            else:
                read_off(part, evaluator.bucket_sum(cells, index, part_labels, part.occupied))

    for group in plan:
        if len(group.features) == 1:
            f = group.features[0]
            blocks[f] = evaluator.bucket_sum(vector, positions, columns[:, f], sizes[f])
        else:
            read_off(group, evaluator.bucket_sum(vector, positions, group.labels, group.occupied))
    return [blocks[f] for f in range(len(sizes))]
