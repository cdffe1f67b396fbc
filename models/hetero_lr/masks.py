"""Random masks and flooding noise, from the operating system's CSPRNG unless a test injects a generator."""

from __future__ import annotations

import os

import numpy as np


class MaskSource:
    """Uniform masks in [-bound, bound] and Gaussian noise; `rng` (numpy Generator) is for tests only."""

    def __init__(self, rng: np.random.Generator | None = None) -> None:
        self._rng = rng

    def _unit(self, size: int) -> np.ndarray:
        """`size` uniform floats in [0, 1) with 53 random bits each."""
        if self._rng is not None:
            return self._rng.random(size)
        raw = np.frombuffer(os.urandom(8 * size), dtype=np.uint64)
        return (raw >> np.uint64(11)).astype(np.float64) * 2.0**-53

    def uniform(self, size: int, bound: float) -> np.ndarray:
        """Masks uniform in [-bound, bound)."""
        return (2.0 * self._unit(size) - 1.0) * bound

    def gaussian(self, size: int, sigma: float) -> np.ndarray:
        """Normal noise N(0, sigma^2) by the Box-Muller transform."""
        if sigma == 0.0:
            return np.zeros(size)
        u1 = 1.0 - self._unit(size)  # in (0, 1]: log stays finite
        u2 = self._unit(size)
        return sigma * np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
