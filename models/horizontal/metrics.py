"""Evaluation figures a bank reports on its held-out rows (aggregates only, never per-row values)."""

from __future__ import annotations

import numpy as np


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney statistic (tied scores share their mean rank); NaN for one class.

    Plain numpy rather than scikit-learn: a ClientApp process starts afresh for every message and
    importing sklearn.metrics costs seconds.
    """
    labels = np.asarray(labels)
    positives = int(np.sum(labels == 1))
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    _, inverse, counts = np.unique(np.asarray(scores, dtype=np.float64), return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    mean_rank = ends - (counts - 1) / 2.0  # 1-based mean rank of each distinct score
    rank_sum = float(np.sum(mean_rank[inverse][labels == 1]))
    return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)


def ks(labels: np.ndarray, scores: np.ndarray) -> float:
    """Kolmogorov-Smirnov separation between defaulters' and payers' score distributions.

    The empirical CDFs are compared only at distinct scores, so tied scores never split.
    """
    labels = np.asarray(labels)
    distinct, inverse = np.unique(np.asarray(scores, dtype=np.float64), return_inverse=True)
    pos = np.bincount(inverse, weights=(labels == 1).astype(float), minlength=len(distinct))
    neg = np.bincount(inverse, weights=(labels != 1).astype(float), minlength=len(distinct))
    if pos.sum() == 0 or neg.sum() == 0:
        return float("nan")
    return float(np.max(np.abs(np.cumsum(pos) / pos.sum() - np.cumsum(neg) / neg.sum())))


def weighted_mean(values: list[float], weights: list[float]) -> float:
    """Weighted mean ignoring NaN entries (a bank whose held-out rows had one class)."""
    pairs = [(v, w) for v, w in zip(values, weights, strict=True) if not np.isnan(v)]
    total = sum(w for _, w in pairs)
    return float(sum(v * w for v, w in pairs) / total) if total else float("nan")
