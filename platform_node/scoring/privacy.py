"""Which private-query mode the platform scores in, per deployment: `[api.privacy]` (docs/protocols/private-scoring.md).

* `direct` (the default): each source is asked for exactly the enterprises being scored; it learns them.
* `precomputed`: each source's answers for every enterprise it holds are fetched ahead (refreshed every
  `refresh_s`: a source's data change, once it reloads its files, is in use within that interval); a score asks
  no source anything.
* `cover`: each enterprise travels in its fixed cover group of `cover_k` + 1 enterprises of the served
  population, in a uniformly shuffled order; a source learns only that the real one is in the group.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from errors import ConfigurationError


class PrivacyMode(StrEnum):
    DIRECT = "direct"
    PRECOMPUTED = "precomputed"
    COVER = "cover"


@dataclass(frozen=True)
class PrivacySettings:
    """`[api.privacy]`: the mode, the cover group size, and how often precomputed tables are refreshed."""

    mode: PrivacyMode = PrivacyMode.DIRECT
    cover_k: int = 4  # decoys per real enterprise in cover mode: a source sees groups of cover_k + 1
    refresh_s: float = 30.0  # precomputed: ask each source for a newer snapshot this often (an unchanged one costs one small message)
    fetch_timeout_s: float = 120.0  # precomputed: the longest one table's transfer may take

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", PrivacyMode(self.mode))
        if not isinstance(self.cover_k, int) or isinstance(self.cover_k, bool) or not 1 <= self.cover_k <= 100:
            raise ConfigurationError("[api.privacy] cover_k must be an integer in [1, 100]")
        if not self.refresh_s > 0 or not self.fetch_timeout_s > 0:
            raise ConfigurationError("[api.privacy] refresh_s and fetch_timeout_s must be positive")

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any]) -> PrivacySettings:
        unknown = set(table) - {"mode", "cover_k", "refresh_s", "fetch_timeout_s"}
        if unknown:
            raise ConfigurationError(f"unknown keys in [api.privacy]: {sorted(unknown)}")
        try:
            return cls(**table)
        except ValueError as exc:
            raise ConfigurationError(f"[api.privacy]: {exc}") from exc
