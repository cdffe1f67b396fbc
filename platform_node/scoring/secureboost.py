"""Online scoring with a published SecureBoost model: fan out to the source nodes, combine leaf masks.

Each source node returns, for every tree and enterprise, the leaves its own splits allow (never a value or
a threshold); the platform ANDs them with its own, reads the single leaf left, and turns the margin into a
probability of default, a score (PDO scaling), a grade and reason codes (data categories). A softmax model
reports 1 - P(class 0) (class 0 = no adverse outcome) and a regression model its value clipped to [0, 1]
(models.secureboost.objective.adverse_probability); the score is the scale's points for those odds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from federation.aio_channels import AioPeerChannels
from federation.grpc_channel import PeerChannels
from federation.proto import scoring_pb2
from models.scorecard.params import ScorecardParams
from models.secureboost import ActiveModel, FeatureTable
from models.secureboost.mask_plan import MaskCombiner
from models.secureboost.objective import adverse_probability, transform
from models.secureboost.params import Objective
from platform_node.scoring.fanout import FanOutScorer
from platform_node.scoring.scorer import (
    FailureCode,
    ScoreBatch,
    ScoreFailure,
    ScoreOutcome,
    ScoreResult,
    grade_of,
)
from platform_node.scoring.source_fanout import FanOut, SourceEndpoint, SourceFanOut
from tables import LoadedTable
from tables.features import FeatureIndex

# Odds of a probability of exactly 0 or 1 are infinite: the score uses the odds of a clipped probability.
_PD_FLOOR = 1e-9


class FederatedSecureBoostScorer(FanOutScorer[scoring_pb2.MaskReply]):
    """A `Scorer` over a published SecureBoost model whose parts live at the platform and the sources.

    Partial-failure policy: FAIL_ENTERPRISE. Every enterprise's trees may route through any party's splits,
    so when a source does not answer within the deadline, every enterprise of the batch gets
    SOURCE_UNAVAILABLE naming it; nothing is scored without all parts.
    """

    METHOD, WHAT = "LeafMasks", "scoring share"

    def __init__(self, *, model_id: str, model_version: str, model: ActiveModel, own_table: LoadedTable,
                 label_column: str, sources: Sequence[SourceEndpoint], channels: PeerChannels,
                 scale: ScorecardParams | None = None, aio_channels: AioPeerChannels | None = None) -> None:
        self.model_id, self.model_version, self.model = model_id, model_version, model
        self._own = own_table
        self._label = label_column
        self._features = FeatureIndex(own_table, exclude=[label_column])
        self._own_ids = {str(c) for c in own_table.ids}
        self._fanout = SourceFanOut(sources, channels, aio_channels)
        missing = set(model.parties) - set(self._fanout.sources)
        if missing:
            raise ValueError(f"the model needs parties that have no endpoint: {sorted(missing)}")
        self._scale = scale or ScorecardParams()
        self._combiner = MaskCombiner(model)

    def close(self) -> None:
        """Nothing of its own to release: the channels belong to whoever built the scorer."""

    def _asked(self) -> Sequence[str]:
        return self.model.parties

    def _reader(self, rows: int) -> Callable[[object], scoring_pb2.MaskReply]:
        return _as_is

    def _request(self, ids: list[str], use_id: str, requester: str = "", purpose: str = ""
                 ) -> scoring_pb2.MaskRequest:
        return scoring_pb2.MaskRequest(model_id=self.model_id, ids=ids, use_id=use_id, institution=requester,
                                       purpose=purpose)

    def _combine(self, ids: list[str], fanout: FanOut[scoring_pb2.MaskReply]) -> ScoreBatch:
        if fanout.failed:
            return fanout.unavailable(ids)
        replies = fanout.replies
        n = len(ids)
        known = np.array([cid in self._own_ids for cid in ids], dtype=bool)
        for reply in replies.values():
            known |= np.unpackbits(np.frombuffer(reply.known, dtype=np.uint8), count=n, bitorder="little").astype(bool)
        own = self._features.rows(ids)
        own_table = FeatureTable(own.names, own.values)
        combined = self._combiner.combine(own_table, {p: r.masks for p, r in replies.items()})
        margin, contributions = combined.margin, combined.contributions
        binary = self.model.objective is Objective.BINARY_LOGISTIC
        adverse = None if binary else adverse_probability(self.model.objective, transform(self.model.objective, margin))
        results: list[ScoreResult] = []
        for i, cid in enumerate(ids):
            if not known[i]:
                results.append(ScoreFailure(cid, FailureCode.UNKNOWN_ENTERPRISE,
                                            "no party of the federation holds data on this enterprise"))
                continue
            if adverse is None:
                pd = 1.0 / (1.0 + math.exp(-margin[i]))
                score = int(round(self._scale.score(-float(margin[i]))))
            else:
                pd = float(adverse[i])
                odds = min(max(pd, _PD_FLOOR), 1.0 - _PD_FLOOR)
                score = int(round(self._scale.score(math.log((1.0 - odds) / odds))))
            ranked = sorted(((contributions[p][i], p) for p in contributions), reverse=True)
            reasons = []
            for value, party in ranked:
                if value <= 1e-9 or len(reasons) >= self._scale.max_reasons:
                    break
                category = "platform" if party == self.model.party else self._fanout.sources[party].category
                if category not in reasons:
                    reasons.append(category)
            results.append(ScoreOutcome(cid, float(min(max(pd, 0.0), 1.0)), score, grade_of(score), tuple(reasons),
                                        self.model_id, self.model_version))
        return ScoreBatch(tuple(results))


def _as_is(reply: object) -> scoring_pb2.MaskReply:
    return reply  # type: ignore[return-value]
