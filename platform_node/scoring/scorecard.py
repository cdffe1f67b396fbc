"""Online scoring with a published scorecard: each source node returns its points for a batch of ids over
mTLS, the platform adds its own points and the base points, and reads PD, score, grade and reason codes.

Reason codes are the (at most four) platform variables, or other parties' data categories, that lost the
most points against their best bins. Sources return sums only: no feature value, bin or cut point.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from federation.aio_channels import AioPeerChannels
from federation.grpc_channel import PeerChannels
from federation.proto import scorecard_part_pb2 as part_pb
from federation.proto import scoring_pb2
from models.scorecard import PartyScores, ScorecardError
from models.scorecard.scoring import combine, from_message
from models.scorecard.stored import party_scorecard, placeable, scaling
from platform_node.scoring.fanout import FanOutScorer
from platform_node.scoring.scorer import (
    FailureCode,
    ScoreBatch,
    ScoreFailure,
    ScoreOutcome,
    ScoreResult,
    grade_of,
)
from platform_node.scoring.source_fanout import FanOut, ReplyRefused, SourceEndpoint, SourceFanOut
from tables import LoadedTable
from tables.features import FeatureIndex


class FederatedScorecardScorer(FanOutScorer[PartyScores]):
    """A `Scorer` over a published scorecard whose points tables live at the platform and the sources.

    Partial-failure policy: FAIL_ENTERPRISE, as for SecureBoost: no score without every party's points.
    """

    METHOD, WHAT = "Points", "scorecard points"

    def __init__(self, *, model_id: str, model_version: str, part: part_pb.StoredPart, own_table: LoadedTable,
                 label_column: str, sources: Sequence[SourceEndpoint], channels: PeerChannels,
                 aio_channels: AioPeerChannels | None = None) -> None:
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

    @property
    def parties(self) -> tuple[str, ...]:
        return tuple(sorted(self._fanout.sources))

    def close(self) -> None:
        """Nothing of its own to release: the channels belong to whoever built the scorer."""

    def _asked(self) -> Sequence[str]:
        return self.parties

    def _reader(self, rows: int) -> Callable[[object], PartyScores]:
        def read(reply) -> PartyScores:
            try:
                return from_message(reply, rows)
            except ScorecardError as exc:
                raise ReplyRefused(str(exc)) from exc

        return read

    def _request(self, ids: list[str], use_id: str, requester: str = "", purpose: str = ""
                 ) -> scoring_pb2.PointsRequest:
        return scoring_pb2.PointsRequest(model_id=self.model_id, ids=ids, use_id=use_id, institution=requester,
                                         purpose=purpose)

    def _combine(self, ids: list[str], fanout: FanOut[PartyScores], purpose: str) -> ScoreBatch:
        if fanout.failed:
            return fanout.unavailable(ids)
        replies: dict[str, PartyScores] = fanout.replies
        own = self._features.rows(ids)
        columns = {n: own.values[:, k] for k, n in enumerate(own.names)}
        scores = combine(ids, self.params, self.base, self.card, placeable(self.card, columns), replies)
        results: list[ScoreResult] = []
        for i, (cid, s) in enumerate(zip(ids, scores, strict=True)):
            if cid not in self._own_ids and not any(r.found[i] for r in replies.values()):
                results.append(ScoreFailure(cid, FailureCode.UNKNOWN_ENTERPRISE,
                                            "no party of the federation holds data on this enterprise"))
                continue
            # Another party's reason is its data category only ("source/tax:tax" -> "tax").
            reasons = tuple(dict.fromkeys(r.code if r.own else r.code.split(":", 1)[1] for r in s.reasons))
            score = int(round(s.score))
            results.append(ScoreOutcome(cid, float(min(max(s.probability_of_default, 0.0), 1.0)), score,
                                        grade_of(score), reasons, self.model_id, self.model_version))
        return ScoreBatch(tuple(results))

