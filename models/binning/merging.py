"""Merge plans computed from per-bin counts alone: monotone event rate and minimum bin size.

The planner (the label holder) needs only event and total counts per bin, never cut points, so it can
plan merges for another party's variable; the owner then applies the plan with `VariableBins.merged`.
A plan maps each old bin to its new index; the missing bin (if any, last) is never merged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

import numpy as np

from models.binning.bins import BinningError


class Monotonicity(Enum):
    """Which event-rate shape a merge plan enforces over the value bins."""

    NONE = "none"
    INCREASING = "increasing"
    DECREASING = "decreasing"
    AUTO = "auto"  # whichever of the two keeps more information value


@dataclass(frozen=True)
class MergeRule:
    """What a merge plan enforces: a monotone event rate and a minimum share of rows per bin."""

    monotonicity: Monotonicity = Monotonicity.AUTO
    min_bin_fraction: float = 0.05
    min_bin_rows: int = 1

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_bin_fraction < 0.5:
            raise BinningError(f"min_bin_fraction={self.min_bin_fraction} must be in [0, 0.5)")
        if self.min_bin_rows < 0:
            raise BinningError("min_bin_rows must be >= 0")


@dataclass
class _Group:
    events: float
    total: float
    size: int  # old bins in the group

    def rate(self) -> float:
        return self.events / self.total if self.total > 0 else math.nan


def _violates(left: _Group, right: _Group, increasing: bool) -> bool:
    if left.total <= 0 or right.total <= 0:
        return True  # an empty bin carries no rate: always pool it
    # Cross-multiplied rate comparison: no division, exact on integer counts.
    if increasing:
        return left.events * right.total > right.events * left.total
    return left.events * right.total < right.events * left.total


def _pool_adjacent_violators(events: np.ndarray, totals: np.ndarray, increasing: bool) -> list[_Group]:
    groups: list[_Group] = []
    for e, t in zip(events.tolist(), totals.tolist(), strict=True):
        groups.append(_Group(e, t, 1))
        while len(groups) >= 2 and _violates(groups[-2], groups[-1], increasing):
            right = groups.pop()
            left = groups[-1]
            groups[-1] = _Group(left.events + right.events, left.total + right.total, left.size + right.size)
    return groups


def _merge_small(groups: list[_Group], min_rows: float) -> list[_Group]:
    """Merge the smallest group below `min_rows` into its neighbour with the closer rate until none is left
    (merging neighbours keeps a monotone sequence monotone)."""
    groups = list(groups)
    while len(groups) > 1:
        k = min(range(len(groups)), key=lambda i: groups[i].total)
        if groups[k].total >= min_rows:
            break
        if k == 0:
            j = 1
        elif k == len(groups) - 1:
            j = k - 1
        else:
            rate = groups[k].rate()
            gaps = [abs(groups[i].rate() - rate) if not math.isnan(rate) else 0.0 for i in (k - 1, k + 1)]
            j = k - 1 if gaps[0] <= gaps[1] else k + 1
        a, b = sorted((j, k))
        groups[a] = _Group(groups[a].events + groups[b].events, groups[a].total + groups[b].total,
                           groups[a].size + groups[b].size)
        del groups[b]
    return groups


def _information_value(groups: list[_Group], total_events: float, total_non_events: float) -> float:
    iv = 0.0
    for g in groups:
        e, ne = g.events + 0.5, g.total - g.events + 0.5
        share_ne, share_e = ne / (total_non_events + 0.5), e / (total_events + 0.5)
        iv += (share_ne - share_e) * math.log(share_ne / share_e)
    return iv


def plan_merges(events: np.ndarray, totals: np.ndarray, rule: MergeRule, *, has_missing: bool = False) -> list[int]:
    """The new bin index of every old bin under `rule`, from per-bin event and total counts.

    With `has_missing` the last bin holds missing values and keeps a bin of its own. Noisy event counts
    are clipped into [0, total] first.
    """
    e = np.asarray(events, dtype=np.float64).ravel()
    t = np.asarray(totals, dtype=np.float64).ravel()
    if e.shape != t.shape or e.size == 0:
        raise BinningError("events and totals must be equally long and non-empty")
    if np.any(t < 0):
        raise BinningError("bin totals must be >= 0")
    e = np.clip(e, 0.0, t)
    value_count = e.size - int(has_missing)
    if value_count < 1:
        raise BinningError("a variable needs at least one value bin")
    ev, tv = e[:value_count], t[:value_count]
    rows = float(tv.sum())
    min_rows = max(float(rule.min_bin_rows), rule.min_bin_fraction * rows)
    total_events, total_non_events = float(e.sum()), float((t - e).sum())

    def shaped(increasing: bool | None) -> list[_Group]:
        if increasing is None:
            # No shape: pool only empty bins (they carry no rate), then enforce the size floor.
            groups: list[_Group] = []
            for ek, tk in zip(ev.tolist(), tv.tolist(), strict=True):
                if groups and (tk <= 0 or groups[-1].total <= 0):
                    last = groups[-1]
                    groups[-1] = _Group(last.events + ek, last.total + tk, last.size + 1)
                else:
                    groups.append(_Group(ek, tk, 1))
            return _merge_small(groups, min_rows)
        return _merge_small(_pool_adjacent_violators(ev, tv, increasing), min_rows)

    if rule.monotonicity is Monotonicity.NONE:
        groups = shaped(None)
    elif rule.monotonicity is Monotonicity.INCREASING:
        groups = shaped(True)
    elif rule.monotonicity is Monotonicity.DECREASING:
        groups = shaped(False)
    else:
        up, down = shaped(True), shaped(False)
        iv_up = _information_value(up, total_events, total_non_events)
        iv_down = _information_value(down, total_events, total_non_events)
        groups = up if iv_up >= iv_down else down
    plan = [index for index, group in enumerate(groups) for _ in range(group.size)]
    if has_missing:
        plan.append(len(groups))
    return plan
