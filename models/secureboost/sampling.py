"""Row sampling per tree: plain subsampling (revealed: it is random) and GOSS (hidden from passive parties).

Subsampled-out rows are simply not in the tree's gradient vector, which saves their encryptions; the
sampled set is random, so showing it to passive parties reveals nothing about labels. GOSS keeps the rows
with the largest |gradient|: that set DOES depend on labels, so every row stays in the vector and the
dropped ones carry an encrypted zero, indistinguishable from the others.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.secureboost.params import SecureBoostParams


@dataclass(frozen=True)
class RowSample:
    """Rows in the tree's vector (`in_vector`) and the gradients / hessians to use (zeros where dropped)."""

    in_vector: np.ndarray  # bool per row
    g: np.ndarray
    h: np.ndarray


def sample_rows(params: SecureBoostParams, g: np.ndarray, h: np.ndarray, rng: np.random.Generator) -> RowSample:
    """Apply subsample or GOSS to one tree's gradients ((rows, classes) for softmax: GOSS ranks rows by the
    L1 norm of their gradient vector)."""
    n = g.shape[0]
    if params.goss:
        top = int(np.ceil(params.goss_top_rate * n))
        other = int(np.ceil(params.goss_other_rate * n))
        size = np.abs(g) if g.ndim == 1 else np.abs(g).sum(axis=1)
        order = np.argsort(-size, kind="stable")
        keep = np.zeros(n, dtype=bool)
        keep[order[:top]] = True
        rest = order[top:]
        chosen = rng.choice(rest, size=min(other, rest.size), replace=False) if rest.size else rest
        scale = np.zeros(n)
        scale[order[:top]] = 1.0
        scale[chosen] = (1.0 - params.goss_top_rate) / params.goss_other_rate
        scale = scale if g.ndim == 1 else scale[:, None]
        return RowSample(np.ones(n, dtype=bool), g * scale, h * scale)
    if params.subsample < 1.0:
        in_vector = rng.random(n) < params.subsample
        if not in_vector.any():
            in_vector[rng.integers(n)] = True
        mask = in_vector if g.ndim == 1 else in_vector[:, None]
        return RowSample(in_vector, np.where(mask, g, 0.0), np.where(mask, h, 0.0))
    return RowSample(np.ones(n, dtype=bool), g, h)
