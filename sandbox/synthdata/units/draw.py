"""Small sampling steps shared by the unit observation models."""

from __future__ import annotations

import numpy as np
import pandas as pd


def coverage(pop_size: int, probability: np.ndarray | float, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask of the enterprises a unit knows, each with its own probability."""
    return rng.random(pop_size) < probability


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def with_missing(values: np.ndarray, rate: float, rng: np.random.Generator) -> pd.Series:
    """Blank out a `rate` share of the values completely at random (as a nullable series)."""
    series = pd.Series(values)
    if series.dtype.kind == "i":
        series = series.astype("Int64")
    return series.mask(rng.random(len(series)) < rate)


def counts(rate: np.ndarray, rng: np.random.Generator, cap: int | None = None) -> np.ndarray:
    """Poisson counts with per-enterprise rates, optionally capped (e.g. 12 months in a year)."""
    drawn = rng.poisson(np.clip(rate, 0, 1e6))
    return np.minimum(drawn, cap) if cap is not None else drawn
