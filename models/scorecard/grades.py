"""Rating grades of a score: the bands every scorer and risk monitoring share (higher scores are better)."""

from __future__ import annotations

from dataclasses import dataclass

from models.scorecard.params import ScorecardError

# Bands on the 600-points-at-50:1, 20-PDO scale: the first band whose minimum the score reaches, best first.
DEFAULT_BANDS = ((750, "AAA"), (700, "AA"), (650, "A"), (600, "BBB"), (550, "BB"), (500, "B"), (450, "CCC"))


@dataclass(frozen=True)
class GradeBands:
    """Rating bands: the first band whose minimum score the score reaches, scanning from the best grade."""

    bands: tuple[tuple[int, str], ...] = DEFAULT_BANDS
    floor: str = "C"

    def __post_init__(self) -> None:
        object.__setattr__(self, "bands", tuple((int(m), str(g)) for m, g in self.bands))
        minimums = [m for m, _ in self.bands]
        if minimums != sorted(minimums, reverse=True) or len(set(minimums)) != len(minimums):
            raise ScorecardError("grade bands must be listed best first with strictly decreasing minimums")

    def grade(self, score: float) -> str:
        return next((g for minimum, g in self.bands if score >= minimum), self.floor)

    @property
    def order(self) -> tuple[str, ...]:
        """Grades from best to worst."""
        return (*(g for _, g in self.bands), self.floor)


DEFAULT_GRADES = GradeBands()
