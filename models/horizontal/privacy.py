"""Record-level differential privacy for local training: DP-SGD (per-example clipping + Gaussian noise)
with a Renyi-DP accountant for the Poisson-subsampled Gaussian mechanism.

The privacy unit is one borrower record of one bank. Each bank runs DP-SGD on its own rows, so what it
contributes (and every later aggregate or published model) is (epsilon, delta)-DP for its borrowers
whoever looks: the aggregator, the other banks, or the model's users.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from models.horizontal.errors import InvalidParameterError, PrivacyBudgetExceededError

# Integer Renyi orders: the closed form below is exact at integer alpha; 2..256 covers the optimum for
# the noise multipliers (0.5..10) and step counts (1e2..1e5) used here.
ORDERS = tuple(range(2, 65)) + (80, 96, 128, 160, 192, 256)


@dataclass(frozen=True)
class DpConfig:
    """DP-SGD settings: per-example L2 clip, noise std = noise_multiplier * clip, target delta."""

    noise_multiplier: float
    clip_norm: float = 1.0
    delta: float = 1e-5
    max_epsilon: float | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.noise_multiplier) and self.noise_multiplier > 0):
            raise InvalidParameterError("noise_multiplier must be positive")
        if not (math.isfinite(self.clip_norm) and self.clip_norm > 0):
            raise InvalidParameterError("clip_norm must be positive")
        if not 0 < self.delta < 1:
            raise InvalidParameterError("delta must be in (0, 1)")
        if self.max_epsilon is not None and not self.max_epsilon > 0:
            raise InvalidParameterError("max_epsilon must be positive")


def _log_add(a: float, b: float) -> float:
    hi, lo = max(a, b), min(a, b)
    return hi if lo == -math.inf else hi + math.log1p(math.exp(lo - hi))


def sampled_gaussian_rdp(q: float, noise_multiplier: float, order: int) -> float:
    """RDP at integer `order` of one Poisson-sampled (rate q) Gaussian step, add/remove-one neighbours.

    Mironov, Talwar, Zhang 2019 (Renyi DP of the Sampled Gaussian Mechanism), integer-alpha closed form:
    A = sum_k C(a,k) (1-q)^(a-k) q^k exp((k^2-k) / (2 sigma^2)), RDP = log(A) / (a-1).
    """
    if not 0 < q <= 1:
        raise InvalidParameterError("sampling rate must be in (0, 1]")
    if order < 2:
        raise InvalidParameterError("order must be an integer >= 2")
    if q == 1.0:
        return order / (2 * noise_multiplier**2)
    log_a = -math.inf
    for k in range(order + 1):
        term = (math.lgamma(order + 1) - math.lgamma(k + 1) - math.lgamma(order - k + 1)
                + (order - k) * math.log1p(-q) + k * math.log(q) + (k * k - k) / (2 * noise_multiplier**2))
        log_a = _log_add(log_a, term)
    return log_a / (order - 1)


def rdp_to_epsilon(rdp: dict[int, float], delta: float) -> tuple[float, int]:
    """Smallest epsilon over the orders and the order achieving it.

    Conversion of Balle et al. 2020 (Hypothesis testing interpretations and Renyi DP), Theorem 21:
    eps = rdp + log((a-1)/a) - (log(delta) + log(a)) / (a-1); never larger than the classic
    rdp + log(1/delta)/(a-1).
    """
    best = (math.inf, 0)
    for a, r in rdp.items():
        eps = r + math.log((a - 1) / a) - (math.log(delta) + math.log(a)) / (a - 1)
        best = min(best, (max(eps, 0.0), a))
    return best


class RdpAccountant:
    """Adds up the RDP of every DP-SGD step a bank has taken (composition is a sum per order)."""

    def __init__(self, orders: tuple[int, ...] = ORDERS) -> None:
        self._rdp = {a: 0.0 for a in orders}
        self.steps = 0

    def compose(self, q: float, noise_multiplier: float, steps: int) -> None:
        if steps < 0:
            raise InvalidParameterError("steps must be non-negative")
        for a in self._rdp:
            self._rdp[a] += steps * sampled_gaussian_rdp(q, noise_multiplier, a)
        self.steps += steps

    def epsilon(self, delta: float) -> float:
        return rdp_to_epsilon(self._rdp, delta)[0]


def epsilon_for(q: float, noise_multiplier: float, steps: int, delta: float) -> float:
    """Epsilon after `steps` identical sampled Gaussian steps (0 steps spend nothing)."""
    if steps == 0:
        return 0.0
    accountant = RdpAccountant()
    accountant.compose(q, noise_multiplier, steps)
    return accountant.epsilon(delta)


def check_budget(config: DpConfig, q: float, steps: int) -> float:
    """Epsilon the planned steps would spend; raises if it passes the bank's `max_epsilon`."""
    eps = epsilon_for(q, config.noise_multiplier, steps, config.delta)
    if config.max_epsilon is not None and eps > config.max_epsilon:
        raise PrivacyBudgetExceededError(config.max_epsilon, eps)
    return eps


def clip_rows(gradients: np.ndarray, clip_norm: float) -> np.ndarray:
    """Scale each row (one example's gradient) to L2 norm at most `clip_norm`."""
    norms = np.linalg.norm(gradients, axis=1, keepdims=True)
    return gradients * np.minimum(1.0, clip_norm / np.maximum(norms, 1e-12))
