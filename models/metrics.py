"""Discrimination and stability metrics of credit models: AUC, KS, Gini and PSI.

The one implementation of each metric for every model (joint, horizontal, baselines); `models/secureboost/
metrics.py` keeps only boosting's early-stopping choice among them. Scores here are RISK scores, higher = more
likely to default; pass `-score` for a scorecard whose points grow with creditworthiness. Only numpy is
imported: a Flower ClientApp starts afresh for every message, and importing scikit-learn costs seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from errors import InvalidInput


class MetricError(InvalidInput):
    """A metric was asked of data that cannot define it (one class only, empty, mismatched lengths)."""


def _binary(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels, dtype=np.float64).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise MetricError(f"{y.size} labels but {s.size} scores")
    if not np.all((y == 0.0) | (y == 1.0)):
        raise MetricError("labels must be 0 or 1")
    if not np.all(np.isfinite(s)):
        raise MetricError("scores contain NaN or infinity")
    if y.size == 0 or y.min() == y.max():
        raise MetricError("the metric needs both classes")
    return y, s


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney rank sum; tied scores share their average rank)."""
    y, s = _binary(labels, scores)
    order = np.argsort(s, kind="mergesort")
    ranked = s[order]
    starts = np.r_[0, np.flatnonzero(np.diff(ranked)) + 1]
    ends = np.r_[starts[1:], s.size]
    # Average 1-based rank of each tie group, spread back to its members.
    group_rank = (starts + ends + 1) / 2.0
    ranks = np.empty(s.size, dtype=np.float64)
    ranks[order] = np.repeat(group_rank, ends - starts)
    positives = float(y.sum())
    negatives = y.size - positives
    return float((ranks[y == 1.0].sum() - positives * (positives + 1) / 2.0) / (positives * negatives))


def gini(labels: np.ndarray, scores: np.ndarray) -> float:
    """Gini coefficient (accuracy ratio) = 2 AUC - 1."""
    return 2.0 * auc(labels, scores) - 1.0


def ks(labels: np.ndarray, scores: np.ndarray) -> float:
    """Kolmogorov-Smirnov statistic: the largest gap between the score CDFs of defaulters and payers.

    The CDFs are compared only between distinct score values, so tied scores never split.
    """
    y, s = _binary(labels, scores)
    order = np.argsort(s, kind="mergesort")
    ranked, ys = s[order], y[order]
    ends = np.r_[np.flatnonzero(np.diff(ranked)) + 1, s.size] - 1
    cum_pos = np.cumsum(ys)[ends] / ys.sum()
    cum_neg = np.cumsum(1.0 - ys)[ends] / (ys.size - ys.sum())
    return float(np.max(np.abs(cum_pos - cum_neg)))


@dataclass(frozen=True)
class RankCurves:
    """Cumulative shares as the threshold moves from the riskiest score down, at distinct scores only: the
    share of all rows above the threshold, of payers (false-positive rate) and of defaulters (true-positive
    rate). ROC is `fpr` against `tpr`; the KS curves are `fpr` and `tpr` against `share`, KS their widest gap."""

    share: tuple[float, ...]
    fpr: tuple[float, ...]
    tpr: tuple[float, ...]


def rank_curves(labels: np.ndarray, scores: np.ndarray, *, max_points: int = 101) -> RankCurves:
    """ROC and KS curves, starting at (0, 0) and ending at (1, 1), thinned to at most `max_points` points
    (evenly spaced along the ranking, first and last kept)."""
    y, s = _binary(labels, scores)
    order = np.argsort(-s, kind="mergesort")
    ranked, ys = s[order], y[order]
    ends = np.r_[np.flatnonzero(np.diff(ranked)) + 1, s.size] - 1
    tpr = np.r_[0.0, np.cumsum(ys)[ends] / ys.sum()]
    fpr = np.r_[0.0, np.cumsum(1.0 - ys)[ends] / (ys.size - ys.sum())]
    share = np.r_[0.0, (ends + 1) / ys.size]
    if share.size > max_points >= 2:
        keep = np.unique(np.round(np.linspace(0, share.size - 1, max_points)).astype(int))
        share, fpr, tpr = share[keep], fpr[keep], tpr[keep]
    return RankCurves(tuple(float(v) for v in share), tuple(float(v) for v in fpr), tuple(float(v) for v in tpr))


def or_nan(metric: Callable[[np.ndarray, np.ndarray], float], labels: np.ndarray, scores: np.ndarray) -> float:
    """`metric(labels, scores)`, or NaN where the population cannot define it (one class, empty): for a party
    that reports a figure others average (`weighted_mean`), such as a bank whose held-out rows had one class."""
    try:
        return metric(labels, scores)
    except MetricError:
        return float("nan")


def weighted_mean(values: Sequence[float], weights: Sequence[float]) -> float:
    """Weighted mean ignoring NaN entries (a party whose figure was undefined)."""
    pairs = [(v, w) for v, w in zip(values, weights, strict=True) if not np.isnan(v)]
    total = sum(w for _, w in pairs)
    return float(sum(v * w for v, w in pairs) / total) if total else float("nan")


def psi(expected: np.ndarray, actual: np.ndarray, *, bins: int = 10, floor: float = 1e-4) -> float:
    """Population stability index of `actual` against the `expected` (reference) population.

    Bins are the reference quantiles (ties collapse bins); PSI = sum (a% - e%) ln(a% / e%), with each share
    floored at `floor` so an empty bin stays finite. Rule of thumb: < 0.1 stable, 0.1-0.25 watch, > 0.25 shifted.
    """
    e = np.asarray(expected, dtype=np.float64).ravel()
    a = np.asarray(actual, dtype=np.float64).ravel()
    if e.size == 0 or a.size == 0:
        raise MetricError("PSI needs two non-empty populations")
    if bins < 2:
        raise MetricError("PSI needs at least two bins")
    if not (np.all(np.isfinite(e)) and np.all(np.isfinite(a))):
        raise MetricError("populations contain NaN or infinity")
    edges = np.unique(np.quantile(e, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    e_share = np.bincount(np.searchsorted(edges, e, side="right"), minlength=edges.size + 1) / e.size
    a_share = np.bincount(np.searchsorted(edges, a, side="right"), minlength=edges.size + 1) / a.size
    e_share, a_share = np.maximum(e_share, floor), np.maximum(a_share, floor)
    return float(np.sum((a_share - e_share) * np.log(a_share / e_share)))


@dataclass(frozen=True)
class DiscriminationReport:
    """AUC, Gini and KS of one scored population, with its size and default rate."""

    rows: int
    default_rate: float
    auc: float
    gini: float
    ks: float

    @classmethod
    def of(cls, labels: np.ndarray, risk_scores: np.ndarray) -> DiscriminationReport:
        """Evaluate risk scores (higher = riskier) against 0/1 default labels."""
        y, s = _binary(labels, risk_scores)
        area = auc(y, s)
        return cls(rows=int(y.size), default_rate=float(y.mean()), auc=area, gini=2.0 * area - 1.0, ks=ks(y, s))
