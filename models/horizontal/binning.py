"""Shared quantile bins: each bank's local deciles, averaged under encryption, become common bin edges.

The logistic model reads each variable both raw and as one-hot bin indicators, which lets a linear
model follow the non-linear risk curves of credit variables (the reason pooled data helps it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.horizontal.errors import InvalidParameterError

# Decrypted CKKS averages carry ~1e-8 noise; rounding makes edges that are equal in truth (ties in a
# discrete variable) equal in bits, so they collapse instead of creating empty bins.
EDGE_DECIMALS = 6


def local_quantiles(features: np.ndarray, bins: int) -> np.ndarray:
    """The (bins-1) inner quantiles of each variable, shape (bins-1, variables)."""
    if bins < 2:
        raise InvalidParameterError("bins must be at least 2")
    return np.quantile(features, np.linspace(0.0, 1.0, bins + 1)[1:-1], axis=0)


@dataclass(frozen=True)
class BinEdges:
    """Per-variable sorted distinct inner edges; bin b holds edges[b-1] <= x < edges[b]."""

    edges: tuple[tuple[float, ...], ...]

    @classmethod
    def from_quantiles(cls, quantiles: np.ndarray) -> BinEdges:
        rounded = np.round(np.asarray(quantiles, dtype=np.float64), EDGE_DECIMALS)
        return cls(tuple(tuple(float(v) for v in np.unique(rounded[:, j])) for j in range(rounded.shape[1])))

    @property
    def width(self) -> int:
        """Columns of `expand`: every raw variable plus (bins - 1) indicators for each."""
        return len(self.edges) + sum(len(e) for e in self.edges)

    def expand(self, features: np.ndarray) -> np.ndarray:
        """[raw variables | one-hot bin indicators without the first bin (the reference level)]."""
        if features.shape[1] != len(self.edges):
            raise InvalidParameterError(f"{features.shape[1]} variables, edges for {len(self.edges)}")
        blocks = [features]
        for j, edges in enumerate(self.edges):
            if not edges:
                continue
            index = np.searchsorted(np.asarray(edges), features[:, j], side="right")
            block = np.zeros((len(features), len(edges)))
            hit = index > 0
            block[np.nonzero(hit)[0], index[hit] - 1] = 1.0
            blocks.append(block)
        return np.hstack(blocks)
