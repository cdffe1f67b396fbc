"""How a source node takes part in private scoring: `[scoring]` in the node's own config.

`precomputed = true` lets the platform fetch this node's precomputed answers (every enterprise it holds, per
published model part) so that online scoring never names an enterprise to it (docs/protocols/private-scoring.md);
false (the default) serves direct and cover queries only. `max_age_s` bounds how long the platform may use one
fetched table (it also ends with the approval). `reload_s` (0: never) re-reads the `[data]` table when its files
change, so answers and tables follow the data without a restart; every answer states its snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from federation.config import ConfigError


@dataclass(frozen=True)
class ScoringSettings:
    """The node's `[scoring]` table, validated."""

    precomputed: bool = False
    max_age_s: float = 3600.0
    reload_s: float = 0.0

    @classmethod
    def from_section(cls, section: Mapping[str, Any], where: str = "[scoring]") -> ScoringSettings:
        known = {"precomputed", "max_age_s", "reload_s"}
        unknown = sorted(set(section) - known)
        if unknown:
            raise ConfigError(f"{where}: unknown settings {unknown}; valid: {sorted(known)}")
        precomputed = section.get("precomputed", False)
        if not isinstance(precomputed, bool):
            raise ConfigError(f"{where}: precomputed must be true or false")
        max_age, reload = section.get("max_age_s", 3600.0), section.get("reload_s", 0.0)
        for name, value in (("max_age_s", max_age), ("reload_s", reload)):
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"{where}: {name} must be a non-negative number of seconds")
        if max_age <= 0:
            raise ConfigError(f"{where}: max_age_s must be positive")
        return cls(precomputed, float(max_age), float(reload))
