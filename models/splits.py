"""Deterministic train/holdout splits by a keyed hash of the row id (reruns get the same rows)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def holdout_split(ids: Sequence[str], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """(train ids, holdout ids), each in the order given; about `fraction` of the ids go to holdout."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"holdout fraction must be in [0, 1), got {fraction}")
    train, holdout = [], []
    for cid in ids:
        h = int.from_bytes(hashlib.sha256(f"{seed}:{cid}".encode()).digest()[:8], "big") / 2**64
        (holdout if h < fraction else train).append(cid)
    return train, holdout
