"""The scorecard's evaluation report: KS, AUC and Gini of the scores, and PSI against a reference."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.metrics import DiscriminationReport, psi


@dataclass(frozen=True)
class ScorecardReport:
    """Discrimination of the scores (a HIGHER score means LOWER risk) and, given a reference, stability."""

    discrimination: DiscriminationReport
    psi: float | None
    mean_score: float

    @classmethod
    def of(cls, labels: np.ndarray, scores: np.ndarray, *, reference_scores: np.ndarray | None = None,
           psi_bins: int = 10) -> ScorecardReport:
        """Evaluate scores against 0/1 default labels; PSI of `scores` against `reference_scores` if given."""
        s = np.asarray(scores, dtype=np.float64)
        stability = None if reference_scores is None else psi(reference_scores, s, bins=psi_bins)
        return cls(DiscriminationReport.of(labels, -s), stability, float(s.mean()))
