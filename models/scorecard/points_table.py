"""A scorecard written as a points table, as a credit department writes one: binned characteristics with
integer points, on the one points-to-odds scale (`ScorecardParams`) and grades (`GradeBands`) of every model.

score = base_points + sum of each characteristic's points for the enterprise's value. The federated
scorecard (`points.VariablePoints`) is trained; this one is given, and scored in one process
(`platform_node.scoring.local_scorecard`, `xyd api serve`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from models.scorecard.grades import DEFAULT_GRADES, GradeBands
from models.scorecard.params import ScorecardError, ScorecardParams

_TOKEN = re.compile(r"[a-z][a-z0-9_]{0,63}")
_SOURCE = re.compile(r"[a-z][a-z0-9]*/[a-z0-9][a-z0-9._-]*")
# The scale of hand-written tables: 600 points at 50:1 with the odds doubling every 40 points.
TABLE_SCALE = ScorecardParams(pdo=40.0)


@dataclass(frozen=True)
class Bin:
    """Values below `upper` (exclusive; None = no bound) that were not caught by an earlier bin get `points`."""

    upper: float | None
    points: int


@dataclass(frozen=True)
class Characteristic:
    """One feature of one source unit, binned; `category` is the data category named in reason codes."""

    feature: str
    source: str
    category: str
    bins: tuple[Bin, ...]
    missing_points: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "bins", tuple(self.bins))
        if not _TOKEN.fullmatch(self.feature) or not _TOKEN.fullmatch(self.category):
            raise ScorecardError(f"feature and category must be lowercase tokens ({self.feature}, {self.category})")
        if not _SOURCE.fullmatch(self.source):
            raise ScorecardError(f"source {self.source!r} is not a kind/name identity")
        if not self.bins or self.bins[-1].upper is not None:
            raise ScorecardError(f"{self.feature}: the last bin must be unbounded (upper=None)")
        uppers = [b.upper for b in self.bins[:-1]]
        if any(u is None for u in uppers) or uppers != sorted(uppers) or len(set(uppers)) != len(uppers):
            raise ScorecardError(f"{self.feature}: bin bounds must increase strictly")

    def points_for(self, value: float | None) -> int:
        """Points of the bin holding `value`; a missing (None or NaN) value gets the missing bin's points."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return self.missing_points
        for bin_ in self.bins:
            if bin_.upper is None or value < bin_.upper:
                return bin_.points
        raise AssertionError("unreachable: the last bin is unbounded")

    @property
    def max_points(self) -> int:
        return max(self.missing_points, *(b.points for b in self.bins))


@dataclass(frozen=True)
class Evaluation:
    """A scorecard's verdict on one enterprise."""

    score: int
    probability_of_default: float
    grade: str
    reason_codes: tuple[str, ...]


@dataclass(frozen=True)
class Scorecard:
    """A complete scorecard. `sources` are the parties whose features it uses."""

    base_points: int
    characteristics: tuple[Characteristic, ...]
    scale: ScorecardParams = TABLE_SCALE
    grades: GradeBands = DEFAULT_GRADES

    def __post_init__(self) -> None:
        object.__setattr__(self, "characteristics", tuple(self.characteristics))
        features = [c.feature for c in self.characteristics]
        if not features or len(set(features)) != len(features):
            raise ScorecardError("a scorecard needs distinct characteristics")

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(sorted({c.source for c in self.characteristics}))

    def evaluate(self, features: Mapping[str, float | None], missing_sources: Collection[str] = ()) -> Evaluation:
        """Score one enterprise; characteristics of `missing_sources` get their missing-bin points."""
        total = self.base_points
        lost: dict[str, int] = {}
        for characteristic in self.characteristics:
            value = None if characteristic.source in missing_sources else features.get(characteristic.feature)
            points = characteristic.points_for(value)
            total += points
            shortfall = characteristic.max_points - points
            if shortfall > 0:
                lost[characteristic.category] = lost.get(characteristic.category, 0) + shortfall
        # Reason codes: the categories that cost the most points, largest shortfall first (ties by name).
        reasons = tuple(name for name, _ in sorted(lost.items(), key=lambda kv: (-kv[1], kv[0]))[:self.scale.max_reasons])
        return Evaluation(total, self.scale.probability_of_default(total), self.grades.grade(total), reasons)
