"""Optional noise on released per-bin event counts: the two-sided geometric (discrete Laplace) mechanism.

Each row adds 1 to one bin of every released variable, so with V variables released at `epsilon` each the
release is (V * epsilon)-differentially private for one row's label (Ghosh, Roughgarden, Sundararajan 2009).
Noise is clipped to +-`bound` so an encrypted slot can never overflow (clipping slightly weakens the
guarantee; `bound` = rows makes that event astronomically unlikely for any useful epsilon).
"""

from __future__ import annotations

import numpy as np

from models.binning import BinningError


def geometric_noise(size: int, epsilon: float, *, bound: int, rng: np.random.Generator) -> np.ndarray:
    """`size` integers with P(k) proportional to exp(-epsilon |k|), clipped to [-bound, bound]."""
    if epsilon <= 0:
        raise BinningError(f"epsilon={epsilon} must be positive")
    # The difference of two i.i.d. geometric variables with p = 1 - e^-epsilon is two-sided geometric.
    p = -np.expm1(-epsilon)
    noise = rng.geometric(p, size) - rng.geometric(p, size)
    return np.clip(noise, -bound, bound).astype(np.int64)
