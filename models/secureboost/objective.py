"""Losses: first and second derivatives per row, the starting margin and the margin-to-output link."""

from __future__ import annotations

import numpy as np

from models.secureboost.errors import InvalidDataError
from models.secureboost.params import Objective

# XGBoost's floor on the logistic hessian, so a confidently predicted row still has a positive weight.
_MIN_HESSIAN = 1e-16


def check_labels(objective: Objective, labels: np.ndarray) -> np.ndarray:
    """Return labels as float64, refusing anything but 0/1 for the logistic loss and non-finite values."""
    y = np.asarray(labels, dtype=np.float64)
    if y.ndim != 1 or y.size == 0:
        raise InvalidDataError(f"labels must be a non-empty 1-d array, got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise InvalidDataError("labels contain NaN or infinite values")
    if objective is Objective.BINARY_LOGISTIC and not np.all((y == 0.0) | (y == 1.0)):
        raise InvalidDataError("binary:logistic needs labels in {0, 1}")
    return y


def base_margin(objective: Objective, labels: np.ndarray, weights: np.ndarray) -> float:
    """The constant margin every prediction starts from: the weighted mean label on the margin scale."""
    mean = float(np.sum(labels * weights) / np.sum(weights))
    if objective is Objective.BINARY_LOGISTIC:
        mean = min(max(mean, 1e-7), 1.0 - 1e-7)
        return float(np.log(mean / (1.0 - mean)))
    return mean


def gradients(objective: Objective, margin: np.ndarray, labels: np.ndarray, weights: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """Per-row gradient and hessian of the weighted loss at the current margin."""
    if objective is Objective.BINARY_LOGISTIC:
        p = transform(objective, margin)
        return (p - labels) * weights, np.maximum(p * (1.0 - p), _MIN_HESSIAN) * weights
    return (margin - labels) * weights, weights.astype(np.float64, copy=True)


def transform(objective: Objective, margin: np.ndarray) -> np.ndarray:
    """Map margins to outputs: probabilities for logistic, identity for squared error."""
    m = np.asarray(margin, dtype=np.float64)
    if objective is Objective.BINARY_LOGISTIC:
        return 1.0 / (1.0 + np.exp(-m))
    return m.copy()


def row_weights(objective: Objective, labels: np.ndarray, scale_pos_weight: float,
                sample_weight: np.ndarray | None) -> np.ndarray:
    """Row weights: the caller's sample weights times scale_pos_weight on positive rows."""
    w = np.ones_like(labels) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if w.shape != labels.shape or not np.all(np.isfinite(w)) or np.any(w < 0) or not np.any(w > 0):
        raise InvalidDataError("sample_weight must be finite, non-negative, not all zero, one per row")
    if objective is Objective.BINARY_LOGISTIC and scale_pos_weight != 1.0:
        w = np.where(labels == 1.0, w * scale_pos_weight, w)
    return w
