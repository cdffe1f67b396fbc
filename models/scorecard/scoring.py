"""Distributed scoring: each party returns its points for a batch of ids; the platform sums them and ranks
reason codes (its own variables by name, other parties' by data category only).

`request_scores` (platform) and `serve_points` (source node) are the only scorecard code on a channel.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from federation.channel import Channel
from federation.proto import woe_pb2
from models.scorecard.params import ScorecardError, ScorecardParams
from models.scorecard.points import PartyScorecard, PartyScores
from models.scorecard.reasons import ReasonCode, rank_reasons

DEFAULT_TIMEOUT = 60.0

# ids -> (feature columns for those ids, which ids this party holds); a missing id's values are ignored.
Lookup = Callable[[Sequence[str]], tuple[Mapping[str, np.ndarray], np.ndarray]]


class Tags:
    """Message tags of one scoring batch."""

    @staticmethod
    def request(batch: str) -> str:
        return f"score-{batch}/request"

    @staticmethod
    def points(batch: str) -> str:
        return f"score-{batch}/points"


@dataclass(frozen=True)
class Score:
    """One enterprise's score, its default probability and reason codes."""

    id: str
    score: float
    probability_of_default: float
    reasons: tuple[ReasonCode, ...]


class TableLookup:
    """A `Lookup` over an in-memory table: ids and aligned feature columns."""

    def __init__(self, ids: Sequence[str], features: Mapping[str, np.ndarray]) -> None:
        self._row = {str(i): k for k, i in enumerate(ids)}
        if len(self._row) != len(ids):
            raise ScorecardError("ids must be unique")
        self._features = {name: np.asarray(v, dtype=np.float64) for name, v in features.items()}

    def __call__(self, ids: Sequence[str]) -> tuple[Mapping[str, np.ndarray], np.ndarray]:
        rows = np.array([self._row.get(str(i), -1) for i in ids], dtype=np.int64)
        found = rows >= 0
        # An id this party does not hold borrows row 0 as a placeholder; `found` zeroes its points.
        safe = np.where(found, rows, 0)
        return {name: values[safe] for name, values in self._features.items()}, found


def to_message(scores: PartyScores) -> woe_pb2.PartyPoints:
    """A party's scores as the wire message."""
    return woe_pb2.PartyPoints(points=scores.points.tolist(), categories=list(scores.categories),
                               lost=scores.lost.ravel().tolist(), found=scores.found.tolist())


def from_message(message: woe_pb2.PartyPoints, rows: int) -> PartyScores:
    """Parse and check a party's reply for `rows` ids."""
    categories = tuple(message.categories)
    points = np.asarray(message.points, dtype=np.float64)
    lost = np.asarray(message.lost, dtype=np.float64)
    found = np.asarray(message.found, dtype=bool)
    if points.size != rows or found.size != rows or lost.size != rows * len(categories):
        raise ScorecardError(f"a reply for {rows} ids has {points.size} points and {lost.size} losses")
    if not np.all(np.isfinite(points)) or not np.all(np.isfinite(lost)) or np.any(lost < -1e-9):
        raise ScorecardError("a reply holds non-finite points or negative losses")
    return PartyScores(points, categories, lost.reshape(rows, len(categories)), found, message.mean_points,
                       message.spread_points)


def serve_points(channel: Channel, platform: str, *, card: PartyScorecard, lookup: Lookup, batch: str,
                 timeout: float = DEFAULT_TIMEOUT) -> int:
    """Answer one scoring request with this party's points; returns how many ids it held."""
    request = channel.recv(platform, Tags.request(batch), woe_pb2.PointsRequest, timeout)
    features, found = lookup(list(request.ids))
    scores = card.score(features, found)
    channel.send(platform, Tags.points(batch), to_message(scores))
    return int(found.sum())


def combine(ids: Sequence[str], params: ScorecardParams, base: float, own: PartyScorecard,
            own_features: Mapping[str, np.ndarray], replies: Mapping[str, PartyScores]) -> list[Score]:
    """Sum base points, the platform's points and every party's points; rank reason codes per id."""
    points, lost = own.per_variable(own_features)
    totals = base + points.sum(axis=1)
    for scores in replies.values():
        totals = totals + scores.points
    results = []
    for i, enterprise in enumerate(ids):
        candidates = [ReasonCode(v.name, float(lost[i, j]), True) for j, v in enumerate(own.variables)]
        for party, scores in sorted(replies.items()):
            candidates += [ReasonCode(f"{party}:{c}", float(scores.lost[i, k]), False)
                           for k, c in enumerate(scores.categories)]
        score = float(totals[i])
        results.append(Score(str(enterprise), score, params.probability_of_default(score),
                             tuple(rank_reasons(candidates, params.max_reasons))))
    return results


def request_scores(channel: Channel, parties: Sequence[str], *, ids: Sequence[str], params: ScorecardParams,
                   base: float, own: PartyScorecard, own_features: Mapping[str, np.ndarray], batch: str,
                   timeout: float = DEFAULT_TIMEOUT) -> list[Score]:
    """Score `ids` as the platform: fan the request out, then combine the parties' points."""
    request = woe_pb2.PointsRequest(ids=[str(i) for i in ids])
    for party in parties:
        channel.send(party, Tags.request(batch), request)
    replies = {p: from_message(channel.recv(p, Tags.points(batch), woe_pb2.PartyPoints, timeout), len(ids))
               for p in parties}
    return combine(ids, params, base, own, own_features, replies)
