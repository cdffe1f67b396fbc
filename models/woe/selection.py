"""IV ranking across every party's variables and feature selection (IV threshold, top-k).

The label holder ranks all variables; each party then sees the ranking through `RankingView`: its own
variables under its own ids, other parties' variables under opaque rank tokens unless their owner
published the name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from models.binning import BinningError


@dataclass(frozen=True)
class SelectionRule:
    """Keep variables whose IV reaches `min_iv`, at most `top_k` of them (None: no limit)."""

    min_iv: float = 0.02
    top_k: int | None = None

    def __post_init__(self) -> None:
        if self.min_iv < 0:
            raise BinningError("min_iv must be >= 0")
        if self.top_k is not None and self.top_k < 1:
            raise BinningError("top_k must be >= 1 or None")


@dataclass(frozen=True)
class RankedVariable:
    """One variable in the global IV ranking, as the label holder knows it."""

    owner: str
    variable_id: str
    published_name: str | None
    iv: float
    rank: int
    selected: bool


@dataclass(frozen=True)
class RankingEntry:
    """One line of the ranking as a given party may see it."""

    variable: str
    iv: float
    rank: int
    selected: bool
    own: bool


def rank_variables(variables: Sequence[tuple[str, str, str | None, float]], rule: SelectionRule) -> list[RankedVariable]:
    """Rank (owner, variable_id, published_name, iv) tuples by IV, highest first, and apply `rule`.

    Ties break on (owner, variable_id) so every run ranks the same way.
    """
    keys = [(owner, vid) for owner, vid, _, _ in variables]
    if len(set(keys)) != len(keys):
        raise BinningError("variable ids must be unique per owner")
    ordered = sorted(variables, key=lambda v: (-v[3], v[0], v[1]))
    ranked = []
    kept = 0
    for rank, (owner, vid, name, iv) in enumerate(ordered, start=1):
        selected = iv >= rule.min_iv and (rule.top_k is None or kept < rule.top_k)
        kept += int(selected)
        ranked.append(RankedVariable(owner, vid, name, float(iv), rank, selected))
    return ranked


def ranking_view(ranking: Sequence[RankedVariable], party: str) -> list[RankingEntry]:
    """The ranking as `party` may see it: names only for its own or published variables."""
    view = []
    for entry in ranking:
        own = entry.owner == party
        if own:
            label = entry.variable_id
        elif entry.published_name:
            label = f"{entry.owner}:{entry.published_name}"
        else:
            label = f"rank-{entry.rank}"
        view.append(RankingEntry(label, entry.iv, entry.rank, entry.selected, own))
    return view
