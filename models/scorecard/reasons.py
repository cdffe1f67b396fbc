"""Reason codes: the (at most four) variables, or other parties' data categories, that lost the most points."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ReasonCode:
    """One reason: a variable name (the platform's own variables) or `party:category` (others'), and the
    points it lost against the best attainable."""

    code: str
    points_lost: float
    own: bool


def rank_reasons(candidates: Sequence[ReasonCode], limit: int = 4, *, min_lost: float = 1e-9) -> list[ReasonCode]:
    """The `limit` candidates that lost the most points (ties by code), ignoring those that lost nothing."""
    kept = [c for c in candidates if c.points_lost > min_lost]
    return sorted(kept, key=lambda c: (-c.points_lost, c.code))[:limit]
