"""When a re-score counts as deterioration: a score drop of at least `score_drop` points, or a grade at least
`grade_steps` bands worse, compared with the reference (the score at lending, or at the last alert)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from models.scorecard.grades import DEFAULT_GRADES


class DeteriorationKind(StrEnum):
    SCORE_DROP = "SCORE_DROP"
    GRADE_DOWNGRADE = "GRADE_DOWNGRADE"


@dataclass(frozen=True)
class Deterioration:
    kind: DeteriorationKind
    score_drop: int
    grade_steps: int


@dataclass(frozen=True)
class DeteriorationRule:
    """Thresholds; `grade_order` lists grades best first (unknown grades never count as a downgrade)."""

    score_drop: int = 40
    grade_steps: int = 1
    grade_order: tuple[str, ...] = DEFAULT_GRADES.order

    def __post_init__(self) -> None:
        if self.score_drop < 1 or self.grade_steps < 1:
            raise ValueError("thresholds must be at least 1")

    def assess(self, reference_score: int, reference_grade: str, score: int, grade: str) -> Deterioration | None:
        """The deterioration from reference to now, or None when within the thresholds."""
        drop = reference_score - score
        steps = 0
        if reference_grade in self.grade_order and grade in self.grade_order:
            steps = self.grade_order.index(grade) - self.grade_order.index(reference_grade)
        if steps >= self.grade_steps:
            return Deterioration(DeteriorationKind.GRADE_DOWNGRADE, drop, steps)
        if drop >= self.score_drop:
            return Deterioration(DeteriorationKind.SCORE_DROP, drop, steps)
        return None
