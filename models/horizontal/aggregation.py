"""Layout of an encrypted contribution: [weight, 1, weight * values...].

Summing contributions under CKKS yields [sum w_k, K, sum w_k v_k...]; the banks decrypt and divide, so
the aggregator learns neither the values nor each bank's weight (its row count). The last slot counts
contributions: a bank refuses an "aggregate" that sums fewer banks than the run requires, the cheap
guard against an aggregator that hands back a single bank's ciphertext.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.horizontal.errors import AggregateRefusedError, InvalidParameterError, KeyMismatchError


def pack_contribution(values: np.ndarray, weight: float) -> np.ndarray:
    if weight <= 0:
        raise InvalidParameterError("a contribution's weight must be positive")
    return np.concatenate([[weight, 1.0], weight * np.asarray(values, dtype=np.float64).ravel()])


@dataclass(frozen=True)
class Aggregate:
    """The weighted mean the banks recover, with the total weight and the number of contributions."""

    mean: np.ndarray
    total_weight: float
    contributors: int


def unpack_aggregate(decrypted: np.ndarray, size: int, min_contributors: int) -> Aggregate:
    """Recover the weighted mean of the first `size` values; raises AggregateRefusedError below
    `min_contributors`. The count slots come first, so a reader can recover a prefix (the shared deciles)
    before it knows how long the rest (weights over the bins those deciles define) is."""
    if len(decrypted) < size + 2:
        raise InvalidParameterError(f"aggregate holds {len(decrypted)} slots, need {size + 2}")
    total, count = float(decrypted[0]), float(decrypted[1])
    contributors = int(round(count))
    if contributors < min_contributors or abs(count - contributors) > 1e-3 or total <= 0:
        raise AggregateRefusedError(min_contributors, count)
    return Aggregate(decrypted[2:size + 2] / total, total, contributors)


def agree_on_key(fingerprints: list[str]) -> str:
    """The one key fingerprint all banks report; raises KeyMismatchError if any bank differs."""
    if not fingerprints:
        raise InvalidParameterError("no bank reported a key")
    for found in fingerprints[1:]:
        if found != fingerprints[0]:
            raise KeyMismatchError(fingerprints[0], found, what="bank key fingerprint")
    return fingerprints[0]
