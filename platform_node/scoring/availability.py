"""What the platform does, per purpose, when a source node does not answer a score in time.

    refuse         no score: SOURCE_UNAVAILABLE naming the missing sources (the default)
    degrade        score without them (SecureBoost: their splits follow the learned default direction;
                   vertical LR and scorecard: their contribution at its training mean) and say so:
                   `degraded`, `missing_sources`, `missing_importance`
    degrade_below  degrade only while the missing sources carry less than `max_missing_importance` of the
                   model's importance (their share of the total split gain); refuse otherwise

Configured in the platform's `[api.availability]` table: `default` and one entry per purpose, each either a
mode name or `{ mode = "degrade_below", max_missing_importance = 0.2 }`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from errors import ConfigurationError


class AvailabilityError(ConfigurationError):
    """The `[api.availability]` table is malformed."""


class Mode(StrEnum):
    REFUSE = "refuse"
    DEGRADE = "degrade"
    DEGRADE_BELOW = "degrade_below"


@dataclass(frozen=True)
class AvailabilityRule:
    """One purpose's rule; `max_missing_importance` is used by `degrade_below` only (a share in (0, 1])."""

    mode: Mode = Mode.REFUSE
    max_missing_importance: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", Mode(self.mode))
        share = self.max_missing_importance
        if isinstance(share, bool) or not isinstance(share, int | float) or not math.isfinite(share) \
                or not 0.0 < share <= 1.0:
            raise AvailabilityError("max_missing_importance must be a share in (0, 1]")

    def degrades(self, missing_importance: float) -> bool:
        """Whether a score may go out without sources carrying `missing_importance` of the model's gain."""
        if self.mode is Mode.DEGRADE:
            return True
        return self.mode is Mode.DEGRADE_BELOW and missing_importance < self.max_missing_importance


@dataclass(frozen=True)
class AvailabilityPolicy:
    """The rule of each purpose, and the rule for purposes not listed."""

    default: AvailabilityRule = field(default_factory=AvailabilityRule)
    purposes: Mapping[str, AvailabilityRule] = field(default_factory=dict)

    def rule(self, purpose: str) -> AvailabilityRule:
        return self.purposes.get(purpose, self.default)

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any]) -> AvailabilityPolicy:
        """Parse `[api.availability]`: `default` and purposes (UPPER_SNAKE codes) to rules."""
        if not isinstance(table, Mapping):
            raise AvailabilityError("[api.availability] must be a table")
        rules = {}
        for key, value in table.items():
            if key != "default" and not (isinstance(key, str) and key.isupper()):
                raise AvailabilityError(f"[api.availability]: {key!r} is neither `default` nor a purpose code")
            rules[key] = _rule(key, value)
        default = rules.pop("default", AvailabilityRule())
        return cls(default, rules)


def _rule(key: str, value: Any) -> AvailabilityRule:
    try:
        if isinstance(value, str):
            if Mode(value) is Mode.DEGRADE_BELOW:
                raise AvailabilityError(f"[api.availability] {key}: degrade_below needs max_missing_importance")
            return AvailabilityRule(Mode(value))
        if isinstance(value, Mapping):
            unknown = set(value) - {"mode", "max_missing_importance"}
            if unknown or "mode" not in value:
                raise AvailabilityError(f"[api.availability] {key}: needs `mode` (and only max_missing_importance)")
            if Mode(value["mode"]) is Mode.DEGRADE_BELOW and "max_missing_importance" not in value:
                raise AvailabilityError(f"[api.availability] {key}: degrade_below needs max_missing_importance")
            return AvailabilityRule(Mode(value["mode"]), value.get("max_missing_importance", 1.0))
    except ValueError as exc:
        raise AvailabilityError(f"[api.availability] {key}: mode must be one of {[m.value for m in Mode]}") from exc
    raise AvailabilityError(f"[api.availability] {key}: a mode name or a table")
