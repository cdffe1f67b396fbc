"""Online scoring with a published vertical LR (raw or WOE): each source node returns its partial linear score
w_k . x_k for a batch of ids over mTLS; the platform adds its own part and the intercept and applies the
sigmoid, then reads score, grade and reasons.

Reasons rank each party's contribution against its training mean (the platform's per variable, a source's as
a whole, named by the item the source says moved it most when its approval lets it name items). When a
source does not answer in time and the purpose's availability policy allows it, its contribution is put at
its training mean (an aggregate the source sends with each answer) and the score is flagged degraded, with
the missing sources' share of the model's importance (their share of the parties' score spreads).

Private queries (`privacy`, docs/protocols/private-scoring.md) as for SecureBoost and scorecards: each source's
partial scores from its precomputed table (no call at all), or asked for inside cover groups and narrowed back;
every outcome states the data snapshot of each party it used.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from federation.aio_channels import AioPeerChannels
from federation.grpc_channel import PeerChannels
from federation.proto import scorecard_part_pb2 as part_pb
from federation.proto import scoring_pb2
from models.scorecard.params import ScorecardParams
from models.scorecard.stored import lr_features
from platform_node.scoring.availability import AvailabilityPolicy
from platform_node.scoring.fanout import FanOutScorer
from platform_node.scoring.linear_rows import narrowed
from platform_node.scoring.party_stats import PartStats, PartyStatsStore
from platform_node.scoring.privacy import PrivacySettings
from platform_node.scoring.scorer import (
    Direction,
    ScoreBatch,
    ScoreOutcome,
    ScorerContractError,
    ScoreReason,
    ScoreResult,
    grade_of,
    held_by_nobody,
)
from platform_node.scoring.source_fanout import FanOut, ReplyRefused, SourceEndpoint, SourceFanOut
from tables import LoadedTable
from tables.features import FeatureIndex

log = logging.getLogger("xyd.platform.scoring")


class FederatedLrScorer(FanOutScorer[scoring_pb2.LinearReply]):
    """A `Scorer` over a published vertical LR whose weights live at the platform and the sources.

    Partial-failure policy, per purpose (`availability`, refuse by default): a source that does not answer
    either fails every enterprise of the batch (SOURCE_UNAVAILABLE naming it) or, when the policy degrades
    and its training mean is known, is scored at that mean and flagged degraded. A source that refused under
    its approval is never degraded around.
    """

    METHOD, WHAT = "LinearScores", "linear score"

    def __init__(self, *, model_id: str, model_version: str, part: part_pb.StoredPart, own_table: LoadedTable,
                 label_column: str, sources: Sequence[SourceEndpoint], channels: PeerChannels,
                 aio_channels: AioPeerChannels | None = None, availability: AvailabilityPolicy | None = None,
                 stats_dir: Path | None = None, scale: ScorecardParams | None = None,
                 privacy: PrivacySettings | None = None) -> None:
        if part.kind != "hetero_lr":
            raise ValueError(f"expected a vertical LR part, found {part.kind!r}")
        self.model_id, self.model_version = model_id, model_version
        self._part = part
        self._weights = np.asarray(part.lr.weights, dtype=np.float64)
        self._intercept = part.lr.intercept if part.lr.has_intercept else 0.0
        means = np.asarray(part.training_means, dtype=np.float64)
        self._own_means = means if means.size == self._weights.size else np.zeros(self._weights.size)
        self._own_spread = float(part.training_spread)
        self._features = FeatureIndex(own_table, exclude=[label_column])
        self._own_ids = {str(c) for c in own_table.ids}
        self._fanout = SourceFanOut(sources, channels, aio_channels)
        self.hosts = tuple(sorted(part.hosts))
        missing = set(self.hosts) - set(self._fanout.sources)
        if missing:
            raise ValueError(f"the model needs parties that have no endpoint: {sorted(missing)}")
        self._availability = availability or AvailabilityPolicy()
        self._stats = PartyStatsStore(self.hosts, stats_dir)
        self._scale = scale or ScorecardParams()
        # The platform's own variables are named by its table's column descriptions.
        descriptions = {c.name: c.description for c in own_table.schema.columns}
        me = part.party or "platform/main"
        self._own_reasons = []
        for name in part.lr.variables:
            described = (name, descriptions.get(name) or name.replace("_", " "))
            try:
                made = {d: ScoreReason(me, "platform", *described, d)
                        for d in (Direction.RAISES_RISK, Direction.LOWERS_RISK)}
            except ScorerContractError:
                made = {d: ScoreReason(me, "platform", "", "", d) for d in (Direction.RAISES_RISK, Direction.LOWERS_RISK)}
            self._own_reasons.append(made)
        self._own_party, self._own_snapshot = me, own_table.snapshot_sha256[:32]
        # The served population of cover groups: the enterprises of the platform's own table.
        self._serve_privately(privacy, channels, self._own_ids, stats_dir)

    @property
    def parties(self) -> tuple[str, ...]:
        return self.hosts

    def missing_importance(self, parties: Sequence[str]) -> float:
        """`parties`' share of the model's importance: of the sum of every party's training score spread."""
        return self._stats.missing_importance(self._own_spread, parties, self.hosts)

    def close(self) -> None:
        """Stop refreshing precomputed tables; the channels belong to whoever built the scorer."""
        self._stop_privately()

    def _narrow(self, reply: scoring_pb2.LinearReply, rows: np.ndarray) -> scoring_pb2.LinearReply:
        return narrowed(reply, rows)

    def _asked(self) -> Sequence[str]:
        return self.hosts

    def _reader(self, rows: int) -> Callable[[object], scoring_pb2.LinearReply]:
        def read(reply) -> scoring_pb2.LinearReply:
            scores = np.asarray(reply.scores, dtype=np.float64)
            if scores.size != rows or not np.all(np.isfinite(scores)) or len(reply.known) != (rows + 7) // 8:
                raise ReplyRefused(f"a linear-score reply for {rows} ids has {scores.size} scores")
            if reply.top_item and (len(reply.top_item) != rows or max(reply.top_item) > len(reply.items)):
                raise ReplyRefused("a linear-score reply names items it does not list")
            return reply

        return read

    def _request(self, ids: list[str], use_id: str, requester: str = "", purpose: str = ""
                 ) -> scoring_pb2.PointsRequest:
        return scoring_pb2.PointsRequest(model_id=self.model_id, ids=ids, use_id=use_id, institution=requester,
                                         purpose=purpose)

    def _category(self, party: str) -> str:
        return self._fanout.sources[party].category

    def _source_reason(self, party: str, reply: scoring_pb2.LinearReply, row: int, direction: Direction
                       ) -> ScoreReason:
        index = reply.top_item[row] if reply.top_item else 0
        if index:
            named = reply.items[index - 1]
            try:
                return ScoreReason(party, self._category(party), named.item, named.description, direction)
            except ScorerContractError:
                log.warning("unusable item named for a linear part", extra={"source": party})
        return ScoreReason(party, self._category(party), "", "", direction)

    def _combine(self, ids: list[str], fanout: FanOut[scoring_pb2.LinearReply], purpose: str) -> ScoreBatch:
        replies = fanout.replies
        for party, reply in replies.items():
            if reply.training_mean or reply.training_spread:
                self._stats.keep(party, PartStats(reply.training_mean, reply.training_spread))
        missing = fanout.failed
        share = self.missing_importance(missing) if missing else 0.0
        if missing and (fanout.refused or not self._availability.rule(purpose).degrades(share)
                        or not self._stats.knows(missing)):
            return fanout.unavailable(ids)
        n = len(ids)
        known = np.array([cid in self._own_ids for cid in ids], dtype=bool)
        for reply in replies.values():
            known |= np.unpackbits(np.frombuffer(reply.known, dtype=np.uint8), count=n, bitorder="little").astype(bool)
        own = self._features.rows(ids)
        own_contributions = lr_features(self._part, {name: own.values[:, k] for k, name in enumerate(own.names)}) \
            * self._weights
        margin = own_contributions.sum(axis=1) + self._intercept
        for reply in replies.values():
            margin = margin + np.asarray(reply.scores, dtype=np.float64)
        for party in missing:
            margin = margin + self._stats.get(party).mean  # type: ignore[union-attr]
        own_moved = own_contributions - self._own_means
        answered = sorted(replies)
        source_moved = {p: np.asarray(replies[p].scores) - (self._stats.get(p).mean if self._stats.get(p) else 0.0)
                        for p in answered}
        flagged = tuple(ScoreReason(p, self._category(p), "", "", Direction.SOURCE_MISSING) for p in missing)
        snapshots = ((self._own_party, self._own_snapshot),
                     *((p, replies[p].snapshot) for p in answered if replies[p].snapshot))
        results: list[ScoreResult] = []
        for i, cid in enumerate(ids):
            if not known[i]:
                results.append(held_by_nobody(cid, missing))
                continue
            m = float(margin[i])
            pd = 1.0 / (1.0 + math.exp(-m)) if m > -700 else 0.0
            score = int(round(self._scale.score(-m)))
            reasons, codes = self._reasons(i, own_moved, source_moved, replies)
            results.append(ScoreOutcome(cid, float(min(max(pd, 0.0), 1.0)), score, grade_of(score), codes,
                                        self.model_id, self.model_version, degraded=bool(missing),
                                        missing_sources=missing, missing_importance=share if missing else 0.0,
                                        reasons=(*reasons, *flagged), snapshots=snapshots))
        return ScoreBatch(tuple(results))

    def _reasons(self, row: int, own_moved: np.ndarray, source_moved: dict[str, np.ndarray],
                 replies: dict[str, scoring_pb2.LinearReply]) -> tuple[list[ScoreReason], tuple[str, ...]]:
        """The contributions that moved the row's log-odds most from their training means (raising the risk
        first), as reasons, and the categories of those that raised it as reason codes."""
        moved = [(float(own_moved[row, j]), "", j) for j in range(own_moved.shape[1])]
        moved += [(float(values[row]), party, -1) for party, values in source_moved.items()]
        moved = [m for m in moved if abs(m[0]) > 1e-9]
        moved.sort(key=lambda m: -m[0])
        top = moved[: self._scale.max_reasons]
        reasons, codes = [], []
        for value, party, j in top:
            direction = Direction.RAISES_RISK if value > 0 else Direction.LOWERS_RISK
            if party:
                reasons.append(self._source_reason(party, replies[party], row, direction))
                category = self._category(party)
            else:
                reasons.append(self._own_reasons[j][direction])
                category = "platform"
            if value > 0 and category not in codes:
                codes.append(category)
        return reasons, tuple(codes)

