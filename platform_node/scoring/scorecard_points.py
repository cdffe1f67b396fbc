"""Scorecard arithmetic: binned characteristics with points, the points-to-odds scale (PDO), grades, reasons.

score = base_points + sum of each characteristic's points for the enterprise's value. The scale fixes what a
score means: at `base_score` the odds good:bad are `base_odds`, and every `pdo` points double the odds, so
score = offset + factor * ln(odds) with factor = pdo / ln 2 and offset = base_score - factor * ln(base_odds),
and the probability of default is 1 / (1 + exp((score - offset) / factor)).
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

_TOKEN = re.compile(r"[a-z][a-z0-9_]{0,63}")
_SOURCE = re.compile(r"[a-z][a-z0-9]*/[a-z0-9][a-z0-9._-]*")
MAX_REASONS = 4


class ScorecardError(ValueError):
    """A scorecard definition is inconsistent."""


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
class ScoreScale:
    """Points-to-odds scale: `base_odds` (good:bad) at `base_score`, odds double every `pdo` points."""

    base_score: int = 600
    base_odds: float = 50.0
    pdo: float = 40.0

    def __post_init__(self) -> None:
        if self.base_odds <= 0 or self.pdo <= 0:
            raise ScorecardError("base_odds and pdo must be positive")

    @property
    def factor(self) -> float:
        return self.pdo / math.log(2)

    @property
    def offset(self) -> float:
        return self.base_score - self.factor * math.log(self.base_odds)

    def probability_of_default(self, score: float) -> float:
        exponent = (score - self.offset) / self.factor
        if exponent > 700:  # exp would overflow; the probability is 0 to double precision
            return 0.0
        return 1.0 / (1.0 + math.exp(exponent))


@dataclass(frozen=True)
class GradeBands:
    """Rating bands: the first band whose minimum score the score reaches, scanning from the best grade."""

    bands: tuple[tuple[int, str], ...] = (
        (750, "AAA"), (700, "AA"), (650, "A"), (600, "BBB"), (550, "BB"), (500, "B"),
    )
    floor: str = "C"

    def __post_init__(self) -> None:
        minimums = [m for m, _ in self.bands]
        if minimums != sorted(minimums, reverse=True) or len(set(minimums)) != len(minimums):
            raise ScorecardError("grade bands must be listed best first with strictly decreasing minimums")

    def grade(self, score: int) -> str:
        return next((g for minimum, g in self.bands if score >= minimum), self.floor)

    @property
    def order(self) -> tuple[str, ...]:
        """Grades from best to worst."""
        return (*(g for _, g in self.bands), self.floor)


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
    scale: ScoreScale = ScoreScale()
    grades: GradeBands = GradeBands()

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
        reasons = tuple(name for name, _ in sorted(lost.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_REASONS])
        return Evaluation(total, self.scale.probability_of_default(total), self.grades.grade(total), reasons)
