"""A source's scorecard answers held row by row at the platform (precomputed mode), and a reply narrowed back
to the real enterprises (cover mode): the same points the source computed, re-arranged."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from federation.proto import woe_pb2
from models.scorecard import PartyScores, ScorecardError
from models.scorecard.scoring import from_message
from platform_node.scoring.source_fanout import ReplyRefused


@dataclass(frozen=True)
class SourcePoints:
    """One source's scorecard answer for a batch, and the data snapshot it came from."""

    scores: PartyScores
    snapshot: str = ""

    def narrowed(self, rows: np.ndarray) -> SourcePoints:
        """The answer for `rows` of the batch, in that order."""
        s = self.scores
        if len(rows) and int(rows.max()) >= len(s.points):
            raise ReplyRefused("a reply for another number of enterprises")
        return SourcePoints(PartyScores(s.points[rows], s.categories, s.lost[rows], s.found[rows], s.mean_points,
                                        s.spread_points), self.snapshot)


def read_points(message: woe_pb2.PartyPoints, rows: int) -> SourcePoints:
    try:
        return SourcePoints(from_message(message, rows), message.snapshot)
    except ScorecardError as exc:
        raise ReplyRefused(str(exc)) from exc


@dataclass(frozen=True)
class PointsRows:
    """Every held enterprise's points, then one last row: the answer for an enterprise the source lacks."""

    scores: PartyScores

    @property
    def n_rows(self) -> int:
        return len(self.scores.points) - 1

    @classmethod
    def of(cls, chunks: Sequence[woe_pb2.PartyPoints], absent: woe_pb2.PartyPoints) -> PointsRows:
        parts = [read_points(c, len(c.points)).scores for c in (*chunks, absent)]
        if len(parts[-1].points) != 1 or any(p.categories != parts[-1].categories for p in parts):
            raise ReplyRefused("scorecard chunks of inconsistent shape")
        # The training aggregates travel with the absent row (the table's first chunk).
        return cls(PartyScores(np.concatenate([p.points for p in parts]), parts[-1].categories,
                               np.concatenate([p.lost for p in parts]), np.concatenate([p.found for p in parts]),
                               parts[-1].mean_points, parts[-1].spread_points))

    def reply(self, rows: np.ndarray, snapshot: str) -> SourcePoints:
        return SourcePoints(self.scores, snapshot).narrowed(np.where(rows < 0, self.n_rows, rows))
