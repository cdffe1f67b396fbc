"""The one points-to-odds scale of every score: points = offset + factor * ln(odds), odds = good : bad.

At `base_score` the odds good:bad are `base_odds`, and every `pdo` points double them, so factor = pdo / ln 2,
offset = base_score - factor * ln(base_odds), and the probability of default is 1 / (1 + exp((score - offset) /
factor)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from errors import InvalidInput


class ScorecardError(InvalidInput):
    """A scorecard parameter, table or scoring reply that cannot be used."""


@dataclass(frozen=True)
class ScorecardParams:
    """`base_score` points at good:bad odds of `base_odds`; every `pdo` points double the odds.

    The classic 600 points at 50:1 with 20 points to double the odds is the default.
    """

    pdo: float = 20.0
    base_score: float = 600.0
    base_odds: float = 50.0
    max_reasons: int = 4

    def __post_init__(self) -> None:
        if not (self.pdo > 0 and self.base_odds > 0 and math.isfinite(self.base_score)):
            raise ScorecardError("pdo and base_odds must be positive and base_score finite")
        if not 1 <= self.max_reasons <= 4:
            raise ScorecardError("at most four reason codes, at least one")

    @property
    def factor(self) -> float:
        """Points per unit of ln(odds): pdo / ln 2."""
        return self.pdo / math.log(2.0)

    @property
    def offset(self) -> float:
        """Points at odds 1:1."""
        return self.base_score - self.factor * math.log(self.base_odds)

    def score(self, log_odds_good: float) -> float:
        """The score of ln(good:bad odds)."""
        return self.offset + self.factor * log_odds_good

    def probability_of_default(self, score: float) -> float:
        """The default probability a score stands for."""
        exponent = (score - self.offset) / self.factor
        if exponent > 700:  # exp would overflow; the probability is 0 to double precision
            return 0.0
        return 1.0 / (1.0 + math.exp(exponent))
