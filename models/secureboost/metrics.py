"""Boosting's early-stopping metrics: AUC (the one in `models.metrics`), log loss, multiclass log loss and RMSE."""

from __future__ import annotations

import numpy as np

from models.metrics import auc
from models.secureboost.params import Metric


def logloss(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Mean binary cross-entropy, probabilities clipped away from 0 and 1."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-15, 1.0 - 1e-15)
    y = np.asarray(labels, dtype=np.float64)
    return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p)))


def mlogloss(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Mean multiclass cross-entropy of (rows, classes) probabilities, clipped away from 0."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-15, 1.0)
    y = np.asarray(labels).astype(np.int64)
    return float(-np.mean(np.log(p[np.arange(y.size), y])))


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
    if metric is Metric.MLOGLOSS:
        return mlogloss(labels, outputs)
    return rmse(labels, outputs)
