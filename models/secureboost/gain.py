"""Split scoring exactly as XGBoost's exact/hist updaters do it (no L1 term, no max_delta_step)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.secureboost.fixed_point import decode

# XGBoost's kRtEps: a split must improve the loss by more than this to be kept.
MIN_SPLIT_GAIN = 1e-6


@dataclass(frozen=True)
class SplitChoice:
    """The best candidate of a node among every party's candidates."""

    party: str
    split_id: int
    gain: float


def node_score(G: float, H: float, reg_lambda: float, min_child_weight: float) -> float:
    """G^2 / (H + lambda), zero under the minimum child weight (XGBoost's CalcGain)."""
    if H < min_child_weight or H <= 0.0:
        return 0.0
    return G * G / (H + reg_lambda)


def leaf_weight(G: float, H: float, reg_lambda: float, min_child_weight: float) -> float:
    """-G / (H + lambda), zero under the minimum child weight (XGBoost's CalcWeight)."""
    if H < min_child_weight or H <= 0.0:
        return 0.0
    return -G / (H + reg_lambda)


def leaf_weights(G: np.ndarray, H: np.ndarray, reg_lambda: float, min_child_weight: float) -> np.ndarray:
    """A multi-output leaf: each class's weight on its own, as XGBoost's multi-target CalcWeight."""
    return np.array([leaf_weight(float(g), float(h), reg_lambda, min_child_weight) for g, h in zip(G, H, strict=True)])


def multi_candidate_gains(GL: np.ndarray, HL: np.ndarray, G: np.ndarray, H: np.ndarray, fraction_bits: int,
                          reg_lambda: float, min_child_weight: float) -> np.ndarray:
    """Loss change of multi-output candidates ((count, classes) sums): the sum over classes of each side's
    G^2 / (H + lambda), a class contributing 0 on a side where its hessian is under min_child_weight
    (XGBoost's HistMultiEvaluator: weights and gains per target, no other validity test); -inf for an
    empty side."""
    gl, hl, gr, hr = (decode(v, fraction_bits) for v in (GL, HL, G[None, :] - GL, H[None, :] - HL))
    g, h = decode(G, fraction_bits), decode(H, fraction_bits)

    def score(gs: np.ndarray, hs: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where((hs >= min_child_weight) & (hs > 0), gs * gs / (hs + reg_lambda), 0.0).sum(axis=-1)

    gains = score(gl, hl) + score(gr, hr) - score(g[None, :], h[None, :])
    valid = (hl.sum(axis=1) > 0) & (hr.sum(axis=1) > 0)
    return np.where(valid, gains, -np.inf)


def candidate_gains(GL: np.ndarray, HL: np.ndarray, G: int, H: int, fraction_bits: int, reg_lambda: float,
                    min_child_weight: float) -> np.ndarray:
    """Loss change of every candidate (integer sums in, floats out); -inf where a child is too light."""
    GR, HR = G - GL, H - HL
    gl, hl, gr, hr = (decode(v, fraction_bits) for v in (GL, HL, GR, HR))
    g, h = float(decode(G, fraction_bits)), float(decode(H, fraction_bits))
    parent = node_score(g, h, reg_lambda, min_child_weight)
    with np.errstate(divide="ignore", invalid="ignore"):
        gains = gl * gl / (hl + reg_lambda) + gr * gr / (hr + reg_lambda) - parent
    valid = (hl >= min_child_weight) & (hr >= min_child_weight) & (hl > 0) & (hr > 0)
    return np.where(valid, gains, -np.inf)


def best_of(party: str, ids: np.ndarray, gains: np.ndarray) -> SplitChoice | None:
    """Highest gain; among exact ties the lowest split id (ids are a PRF, so this is a fixed random order)."""
    if gains.size == 0 or not np.isfinite(np.max(gains)):
        return None
    top = np.max(gains)
    tied = ids[gains == top]
    return SplitChoice(party, int(np.min(tied)), float(top))


def better(a: SplitChoice | None, b: SplitChoice | None) -> SplitChoice | None:
    """The better of two choices: higher gain, then lower split id; `a` (earlier party) wins full ties."""
    if a is None:
        return b
    if b is None:
        return a
    if b.gain > a.gain or (b.gain == a.gain and b.split_id < a.split_id):
        return b
    return a
