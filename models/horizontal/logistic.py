"""Local training of a logistic model for FedAvg / FedProx rounds, plain or with DP-SGD.

Weights are one flat vector [coefficients..., intercept], the form the banks encrypt and average.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from models.horizontal.errors import InvalidParameterError
from models.horizontal.privacy import DpConfig, clip_rows


@dataclass(frozen=True)
class LogisticConfig:
    """Local SGD settings; `proximal_mu` > 0 turns FedAvg into FedProx (Li et al. 2020)."""

    learning_rate: float = 0.05
    local_epochs: int = 2
    batch_size: int = 64
    l2: float = 1e-3
    proximal_mu: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise InvalidParameterError("learning_rate must be positive")
        if self.local_epochs < 1 or self.batch_size < 1:
            raise InvalidParameterError("local_epochs and batch_size must be at least 1")
        if self.l2 < 0 or self.proximal_mu < 0:
            raise InvalidParameterError("l2 and proximal_mu must be non-negative")

    @property
    def strategy(self) -> str:
        return "fedprox" if self.proximal_mu > 0 else "fedavg"


@dataclass(frozen=True)
class LocalResult:
    """The bank's new weights, the SGD steps taken (for privacy accounting) and its mean training loss."""

    weights: np.ndarray
    steps: int
    loss: float


def initial_weights(width: int) -> np.ndarray:
    return np.zeros(width + 1)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def predict_proba(weights: np.ndarray, features: np.ndarray) -> np.ndarray:
    return _sigmoid(features @ weights[:-1] + weights[-1])


def log_loss(weights: np.ndarray, features: np.ndarray, labels: np.ndarray) -> float:
    p = np.clip(predict_proba(weights, features), 1e-12, 1 - 1e-12)
    return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))


def _penalty_gradient(w: np.ndarray, anchor: np.ndarray, config: LogisticConfig) -> np.ndarray:
    grad = config.proximal_mu * (w - anchor)
    grad[:-1] += config.l2 * w[:-1]  # no weight decay on the intercept
    return grad


def train_local(
    global_weights: np.ndarray,
    features: np.ndarray,
    labels: np.ndarray,
    config: LogisticConfig,
    rng: np.random.Generator,
    privacy: DpConfig | None = None,
) -> LocalResult:
    """Run `local_epochs` of mini-batch SGD from the global weights on this bank's rows.

    With `privacy`, each step is DP-SGD: Poisson sampling at rate batch/n, per-example gradients clipped
    to `clip_norm`, Gaussian noise of std noise_multiplier * clip_norm added to their sum, divided by the
    expected batch size. The penalty terms depend only on public weights and stay outside the clipping.
    """
    n = len(labels)
    if n == 0 or features.shape[0] != n or len(global_weights) != features.shape[1] + 1:
        raise InvalidParameterError("features, labels and weights do not fit together")
    anchor = np.asarray(global_weights, dtype=np.float64)
    w = anchor.copy()
    design = np.hstack([features, np.ones((n, 1))])
    steps_per_epoch = max(1, math.ceil(n / config.batch_size))
    steps = 0
    for _ in range(config.local_epochs):
        order = rng.permutation(n) if privacy is None else None
        for s in range(steps_per_epoch):
            if privacy is None:
                batch = order[s * config.batch_size:(s + 1) * config.batch_size]
                residual = predict_proba(w, features[batch]) - labels[batch]
                grad = design[batch].T @ residual / len(batch)
            else:
                q = min(1.0, config.batch_size / n)
                batch = np.nonzero(rng.random(n) < q)[0]
                residual = predict_proba(w, features[batch]) - labels[batch]
                per_example = clip_rows(design[batch] * residual[:, None], privacy.clip_norm)
                noise = rng.normal(0.0, privacy.noise_multiplier * privacy.clip_norm, size=len(w))
                grad = (per_example.sum(axis=0) + noise) / (q * n)
            w -= config.learning_rate * (grad + _penalty_gradient(w, anchor, config))
            steps += 1
    return LocalResult(w, steps, log_loss(w, features, labels))


def dp_sampling_rate(config: LogisticConfig, n: int) -> float:
    """The Poisson rate DP-SGD uses on a bank with n training rows."""
    return min(1.0, config.batch_size / n)


def dp_steps(config: LogisticConfig, n: int) -> int:
    """SGD steps one round of local training takes on n rows."""
    return config.local_epochs * max(1, math.ceil(n / config.batch_size))
