"""Online scoring with a published scorecard: each source node returns its points for a batch of ids over
mTLS, the platform adds its own points and the base points, and reads PD, score, grade and reason codes.

Reason codes are the (at most four) platform variables, or other parties' data categories, that lost the
most points against their best bins. Sources return sums only: no feature value, bin or cut point.

When a source does not answer in time and the purpose's availability policy allows it, its points are put at
their training mean (an aggregate it sends with each answer, kept beside the model) and the score is flagged
degraded, with the missing sources' share of the parties' points spreads as `missing_importance`.

Private queries (`privacy`, docs/protocols/private-scoring.md) as for SecureBoost: the sources' points from
their precomputed tables, or asked for inside cover groups; every outcome states each party's snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from federation.aio_channels import AioPeerChannels
from federation.grpc_channel import PeerChannels
from federation.proto import scorecard_part_pb2 as part_pb
from federation.proto import scoring_pb2
from models.scorecard import PartyScores
from models.scorecard.scoring import combine
from models.scorecard.stored import party_scorecard, placeable, scaling
from platform_node.scoring.availability import AvailabilityPolicy
from platform_node.scoring.fanout import FanOutScorer
from platform_node.scoring.party_stats import PartStats, PartyStatsStore
from platform_node.scoring.points_rows import SourcePoints, read_points
from platform_node.scoring.privacy import PrivacySettings
from platform_node.scoring.scorer import (
    Direction,
    ScoreBatch,
    ScoreOutcome,
    ScoreReason,
    ScoreResult,
    grade_of,
    held_by_nobody,
)
from platform_node.scoring.source_fanout import FanOut, SourceEndpoint, SourceFanOut
from tables import LoadedTable
from tables.features import FeatureIndex


class FederatedScorecardScorer(FanOutScorer[SourcePoints]):
    """A `Scorer` over a published scorecard whose points tables live at the platform and the sources.

    Partial-failure policy, per purpose (`availability`, refuse by default): a source that does not answer
    fails every enterprise of the batch, or (degrade, or degrade_below under the threshold, and only when its
    training mean is known) its points are its training mean and the answers are flagged degraded.
    """

    METHOD, WHAT = "Points", "scorecard points"

    def __init__(self, *, model_id: str, model_version: str, part: part_pb.StoredPart, own_table: LoadedTable,
                 label_column: str, sources: Sequence[SourceEndpoint], channels: PeerChannels,
                 aio_channels: AioPeerChannels | None = None, availability: AvailabilityPolicy | None = None,
                 stats_dir: Path | None = None, privacy: PrivacySettings | None = None) -> None:
        self.model_id, self.model_version = model_id, model_version
        self.card = party_scorecard(part)
        self.params = scaling(part)
        self.base = part.base_points
        self._own = own_table
        self._label = label_column
        self._features = FeatureIndex(own_table, exclude=[label_column])
        self._own_ids = {str(c) for c in own_table.ids}
        self._fanout = SourceFanOut(sources, channels, aio_channels)
        missing = set(part.hosts) - set(self._fanout.sources)
        if missing:
            raise ValueError(f"the scorecard needs parties that have no endpoint: {sorted(missing)}")
        self._hosts = tuple(sorted(part.hosts))
        self._availability = availability or AvailabilityPolicy()
        self._stats = PartyStatsStore(self._hosts, stats_dir)
        self._own_spread = float(part.training_spread)
        self._own_party = part.party
        self._own_snapshot = own_table.snapshot_sha256[:32]
        # The served population of cover groups: the enterprises of the platform's own table.
        self._serve_privately(privacy, channels, self._own_ids, stats_dir)

    def missing_importance(self, parties: Sequence[str]) -> float:
        """`parties`' share of the model's importance: of the sum of every party's training points spread."""
        return self._stats.missing_importance(self._own_spread, parties, self._hosts)

    @property
    def parties(self) -> tuple[str, ...]:
        return tuple(sorted(self._fanout.sources))

    def close(self) -> None:
        """Stop refreshing precomputed tables; the channels belong to whoever built the scorer."""
        self._stop_privately()

    def _narrow(self, reply: SourcePoints, rows: np.ndarray) -> SourcePoints:
        return reply.narrowed(rows)

    def _asked(self) -> Sequence[str]:
        return self.parties

    def _reader(self, rows: int) -> Callable[[object], SourcePoints]:
        return lambda reply: read_points(reply, rows)  # type: ignore[arg-type]

    def _request(self, ids: list[str], use_id: str, requester: str = "", purpose: str = ""
                 ) -> scoring_pb2.PointsRequest:
        return scoring_pb2.PointsRequest(model_id=self.model_id, ids=ids, use_id=use_id, institution=requester,
                                         purpose=purpose)

    def _combine(self, ids: list[str], fanout: FanOut[SourcePoints], purpose: str) -> ScoreBatch:
        replies: dict[str, PartyScores] = {p: r.scores for p, r in fanout.replies.items()}
        for party, reply in replies.items():
            if reply.mean_points or reply.spread_points:
                self._stats.keep(party, PartStats(reply.mean_points, reply.spread_points))
        missing = fanout.failed
        share = self.missing_importance(missing) if missing else 0.0
        if missing and (fanout.refused or not self._availability.rule(purpose).degrades(share)
                        or not self._stats.knows(missing)):
            return fanout.unavailable(ids)
        answered = dict(replies)
        n = len(ids)
        for party in missing:  # at its training mean, losing nothing: no reason is its data's doing
            replies[party] = PartyScores(np.full(n, self._stats.get(party).mean), (),  # type: ignore[union-attr]
                                         np.zeros((n, 0)), np.zeros(n, dtype=bool), 0.0, 0.0)
        flagged = tuple(ScoreReason(p, self._fanout.sources[p].category, "", "", Direction.SOURCE_MISSING)
                        for p in missing)
        snapshots = ((self._own_party, self._own_snapshot),
                     *((p, r.snapshot) for p, r in sorted(fanout.replies.items()) if r.snapshot))
        own = self._features.rows(ids)
        columns = {n: own.values[:, k] for k, n in enumerate(own.names)}
        scores = combine(ids, self.params, self.base, self.card, placeable(self.card, columns), replies)
        results: list[ScoreResult] = []
        for i, (cid, s) in enumerate(zip(ids, scores, strict=True)):
            if cid not in self._own_ids and not any(r.found[i] for r in answered.values()):
                results.append(held_by_nobody(cid, missing))
                continue
            # Another party's reason is its data category only ("source/tax:tax" -> "tax").
            reasons = tuple(dict.fromkeys(r.code if r.own else r.code.split(":", 1)[1] for r in s.reasons))
            score = int(round(s.score))
            results.append(ScoreOutcome(cid, float(min(max(s.probability_of_default, 0.0), 1.0)), score,
                                        grade_of(score), reasons, self.model_id, self.model_version,
                                        degraded=bool(missing), missing_sources=missing,
                                        missing_importance=share if missing else 0.0, reasons=flagged,
                                        snapshots=snapshots))
        return ScoreBatch(tuple(results))

