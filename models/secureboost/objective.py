"""Losses: first and second derivatives per row, the starting margin and the margin-to-output link."""

from __future__ import annotations

import numpy as np

from models.secureboost.errors import InvalidDataError
from models.secureboost.params import Objective

# XGBoost's floor on the logistic hessian, so a confidently predicted row still has a positive weight.
_MIN_HESSIAN = 1e-16


def check_labels(objective: Objective, labels: np.ndarray, num_class: int = 0) -> np.ndarray:
    """Return labels as float64, refusing anything but 0/1 for the logistic loss, anything but a class
    0..num_class-1 for softmax, and non-finite values."""
    y = np.asarray(labels, dtype=np.float64)
    if y.ndim != 1 or y.size == 0:
        raise InvalidDataError(f"labels must be a non-empty 1-d array, got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise InvalidDataError("labels contain NaN or infinite values")
    if objective is Objective.BINARY_LOGISTIC and not np.all((y == 0.0) | (y == 1.0)):
        raise InvalidDataError("binary:logistic needs labels in {0, 1}")
    if objective is Objective.MULTI_SOFTPROB and not np.all((y == np.floor(y)) & (y >= 0) & (y < num_class)):
        raise InvalidDataError(f"multi:softprob needs integer class labels in [0, {num_class})")
    return y


def base_margin(objective: Objective, labels: np.ndarray, weights: np.ndarray) -> float:
    """The constant margin every prediction starts from: the weighted mean label on the margin scale; zero
    for softmax (every class alike: a common shift of all margins leaves the probabilities unchanged)."""
    if objective is Objective.MULTI_SOFTPROB:
        return 0.0
    mean = float(np.sum(labels * weights) / np.sum(weights))
    if objective is Objective.BINARY_LOGISTIC:
        mean = min(max(mean, 1e-7), 1.0 - 1e-7)
        return float(np.log(mean / (1.0 - mean)))
    return mean


def gradients(objective: Objective, margin: np.ndarray, labels: np.ndarray, weights: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """Per-row gradient and hessian of the weighted loss at the current margin; (rows, classes) arrays for
    softmax, with XGBoost's hessian 2 p (1 - p) (its softmax objective's bound on the diagonal)."""
    if objective is Objective.MULTI_SOFTPROB:
        p = transform(objective, margin)
        onehot = np.zeros_like(p)
        onehot[np.arange(labels.size), labels.astype(np.int64)] = 1.0
        w = weights[:, None]
        return (p - onehot) * w, np.maximum(2.0 * p * (1.0 - p), _MIN_HESSIAN) * w
    if objective is Objective.BINARY_LOGISTIC:
        p = transform(objective, margin)
        return (p - labels) * weights, np.maximum(p * (1.0 - p), _MIN_HESSIAN) * weights
    return (margin - labels) * weights, weights.astype(np.float64, copy=True)


def transform(objective: Objective, margin: np.ndarray) -> np.ndarray:
    """Map margins to outputs: probabilities for logistic, class probabilities (softmax over the last axis)
    for multi:softprob, identity for squared error."""
    m = np.asarray(margin, dtype=np.float64)
    if objective is Objective.MULTI_SOFTPROB:
        e = np.exp(m - np.max(m, axis=-1, keepdims=True))
        return e / np.sum(e, axis=-1, keepdims=True)
    if objective is Objective.BINARY_LOGISTIC:
        return 1.0 / (1.0 + np.exp(-m))
    return m.copy()


def adverse_probability(objective: Objective, outputs: np.ndarray) -> np.ndarray:
    """Probability of an adverse outcome per row, what online scoring reports: the logistic probability,
    1 - P(class 0) for softmax (class 0 = no adverse outcome), a regression's value clipped to [0, 1]."""
    out = np.asarray(outputs, dtype=np.float64)
    if objective is Objective.MULTI_SOFTPROB:
        return 1.0 - out[..., 0]
    return np.clip(out, 0.0, 1.0)


def row_weights(objective: Objective, labels: np.ndarray, scale_pos_weight: float,
                sample_weight: np.ndarray | None) -> np.ndarray:
    """Row weights: the caller's sample weights times scale_pos_weight on positive rows."""
    w = np.ones_like(labels) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if w.shape != labels.shape or not np.all(np.isfinite(w)) or np.any(w < 0) or not np.any(w > 0):
        raise InvalidDataError("sample_weight must be finite, non-negative, not all zero, one per row")
    if objective is Objective.BINARY_LOGISTIC and scale_pos_weight != 1.0:
        w = np.where(labels == 1.0, w * scale_pos_weight, w)
    return w
