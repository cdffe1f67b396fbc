"""The default label: a logistic model of a latent creditworthiness that no single unit observes in full."""

from __future__ import annotations

import numpy as np

from sandbox.synthdata.population import Population

# Weight of each latent factor in creditworthiness; trade health counts only for traders.
FACTOR_WEIGHTS = {"fin": 0.40, "work": 0.38, "ops": 0.36, "legal": 0.40, "plat": 0.25, "innov": 0.10, "trade": 0.30}
# Log-odds per unit of standardised creditworthiness: sets how predictable default is even with every factor.
SLOPE = 1.9


def creditworthiness(pop: Population) -> np.ndarray:
    """Standardised latent creditworthiness (higher is better)."""
    z = sum(w * pop.factors[name] for name, w in FACTOR_WEIGHTS.items() if name != "trade")
    z = z + FACTOR_WEIGHTS["trade"] * pop.factors["trade"] * pop.trader
    return (z - z.mean()) / z.std()


def default_logit_offset(pop: Population) -> np.ndarray:
    """Observable structural risk: industry cyclicality, youth (first two years) and micro size."""
    young = np.clip(2.0 - pop.age_years, 0.0, 2.0) * 0.25
    micro = (pop.size == 0) * 0.2
    return pop.industry_attr("risk") + young + micro


def _intercept_for_rate(score: np.ndarray, rate: float) -> float:
    """Intercept a with mean(sigmoid(a + score)) == rate, by bisection (the mean is increasing in a)."""
    lo, hi = -20.0, 20.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if np.mean(1 / (1 + np.exp(-(mid + score)))) < rate:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def draw_default(pop: Population, rng: np.random.Generator, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Return (probability of default, 0/1 label) per enterprise, calibrated so the platform's mean PD is `rate`."""
    score = -SLOPE * creditworthiness(pop) + default_logit_offset(pop)
    a = _intercept_for_rate(score[pop.on_platform], rate)
    pd_ = 1 / (1 + np.exp(-(a + score)))
    return pd_, (rng.random(len(pop)) < pd_).astype("int64")
