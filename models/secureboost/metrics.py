"""Evaluation metrics used for early stopping (AUC, log loss, RMSE)."""

from __future__ import annotations

import numpy as np

from models.secureboost.errors import InvalidDataError
from models.secureboost.params import Metric


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve by the rank-sum formula, ties sharing their average rank."""
    y = np.asarray(labels, dtype=np.float64)
    s = np.asarray(scores, dtype=np.float64)
    positives = int(np.sum(y == 1.0))
    negatives = y.size - positives
    if positives == 0 or negatives == 0:
        raise InvalidDataError("AUC needs both classes")
    order = np.argsort(s, kind="mergesort")
    sorted_scores = s[order]
    ranks = np.empty(s.size, dtype=np.float64)
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_scores)) + 1]
    ends = np.r_[starts[1:], s.size]
    for a, b in zip(starts, ends, strict=True):
        ranks[order[a:b]] = (a + b + 1) / 2.0
    rank_sum = float(np.sum(ranks[y == 1.0]))
    return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)


def logloss(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Mean binary cross-entropy, probabilities clipped away from 0 and 1."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-15, 1.0 - 1e-15)
    y = np.asarray(labels, dtype=np.float64)
    return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p)))


def rmse(labels: np.ndarray, predictions: np.ndarray) -> float:
    """Root mean squared error."""
    diff = np.asarray(predictions, dtype=np.float64) - np.asarray(labels, dtype=np.float64)
    return float(np.sqrt(np.mean(diff * diff)))


def evaluate(metric: Metric, labels: np.ndarray, outputs: np.ndarray) -> float:
    """Score outputs (probabilities or values) with the named metric."""
    if metric is Metric.AUC:
        return auc(labels, outputs)
    if metric is Metric.LOGLOSS:
        return logloss(labels, outputs)
    return rmse(labels, outputs)
