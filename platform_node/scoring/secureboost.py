"""Online scoring with a published SecureBoost model: fan out to the source nodes, combine leaf masks.

Each source node returns, for every tree and enterprise, the leaves its own splits allow (never a value or
a threshold); the platform ANDs them with its own, reads the single leaf left, and turns the margin into a
probability of default, a score (PDO scaling), a grade and reason codes (data categories). A softmax model
reports 1 - P(class 0) (class 0 = no adverse outcome) and a regression model its value clipped to [0, 1]
(models.secureboost.objective.adverse_probability); the score is the scale's points for those odds.

Each reply also carries the source's default masks (the leaves a row with every one of its features missing
reaches). The scorer keeps the latest of each source, in memory and in `defaults_dir`, so that when a source
does not answer in time and the purpose's availability policy allows it, the batch is scored with that
source's splits sent down their learned default direction, flagged degraded.

Private queries (`privacy`, docs/protocols/private-scoring.md): in precomputed mode the sources' masks come
from their tables fetched ahead (`PrecomputedTables`), in cover mode each enterprise is asked for inside its
cover group. Every outcome states the data snapshot of each party it used (`snapshots`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from federation.aio_channels import AioPeerChannels
from federation.grpc_channel import PeerChannels
from federation.proto import scoring_pb2, secureboost_pb2
from models.scorecard.params import ScorecardParams
from models.secureboost import ActiveModel, FeatureTable
from models.secureboost.attribution import SplitAttribution
from models.secureboost.errors import ProtocolError
from models.secureboost.mask_plan import MaskCombiner
from models.secureboost.objective import adverse_probability, transform
from models.secureboost.params import Objective
from platform_node.scoring.availability import AvailabilityPolicy
from platform_node.scoring.fanout import FanOutScorer
from platform_node.scoring.mask_rows import narrowed
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
from platform_node.scoring.source_fanout import FanOut, SourceEndpoint, SourceFanOut
from tables import LoadedTable
from tables.features import FeatureIndex

# Odds of a probability of exactly 0 or 1 are infinite: the score uses the odds of a clipped probability.
_PD_FLOOR = 1e-9
log = logging.getLogger("xyd.platform.scoring")


class FederatedSecureBoostScorer(FanOutScorer[scoring_pb2.MaskReply]):
    """A `Scorer` over a published SecureBoost model whose parts live at the platform and the sources.

    Partial-failure policy, per purpose (`availability`, refuse by default): every enterprise's trees may
    route through any party's splits, so when a source does not answer within the deadline, every enterprise
    of the batch either gets SOURCE_UNAVAILABLE naming it, or (degrade, or degrade_below while the missing
    sources' gain share is under the threshold, and only if their default masks are known) a degraded score.
    """

    METHOD, WHAT = "LeafMasks", "scoring share"

    def __init__(self, *, model_id: str, model_version: str, model: ActiveModel, own_table: LoadedTable,
                 label_column: str, sources: Sequence[SourceEndpoint], channels: PeerChannels,
                 scale: ScorecardParams | None = None, aio_channels: AioPeerChannels | None = None,
                 availability: AvailabilityPolicy | None = None, defaults_dir: Path | None = None,
                 privacy: PrivacySettings | None = None) -> None:
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
        self._availability = availability or AvailabilityPolicy()
        importance = model.importance_by_party()
        total = sum(i.gain for i in importance.values())
        self._gain_share = {p: (i.gain / total if total > 0 else 0.0) for p, i in importance.items()}
        self._defaults_dir = defaults_dir
        # Reasons: each split's contribution, labelled by the catalogue item its owner names (if allowed).
        self._attribution = SplitAttribution(model)
        self._own_splits = {sid: rule.feature for sid, rule in model.own.rules.items()}
        self._own_descriptions = {c.name: c.description for c in own_table.schema.columns}
        self._items: dict[str, dict[int, tuple[str, str]]] = {}
        self._labels: tuple[np.ndarray, list[dict[Direction, ScoreReason]]] | None = None
        self._defaults: dict[str, secureboost_pb2.LeafMasks] = {}
        for party in model.parties:
            stored = self._defaults_path(party)
            if stored is not None and stored.exists():
                self._keep_defaults(party, secureboost_pb2.LeafMasks.FromString(stored.read_bytes()), save=False)
        self._own_snapshot = own_table.snapshot_sha256[:32]
        # The served population of cover groups: the enterprises of the platform's own table.
        self._serve_privately(privacy, channels, self._own_ids, defaults_dir)

    def _narrow(self, reply: scoring_pb2.MaskReply, rows: np.ndarray) -> scoring_pb2.MaskReply:
        return narrowed(reply, rows)

    def _defaults_path(self, party: str) -> Path | None:
        return None if self._defaults_dir is None else self._defaults_dir / f"defaults-{party.replace('/', '-')}.bin"

    def _keep_defaults(self, party: str, defaults: secureboost_pb2.LeafMasks, *, save: bool = True) -> None:
        """Remember a source's default masks (and write them beside the model) if they fit the model."""
        if self._defaults.get(party) == defaults:
            return
        try:
            self._combiner.check_defaults(party, defaults)
        except ProtocolError as exc:
            log.warning("default masks refused", extra={"source": party, "error": str(exc)})
            return
        self._defaults[party] = defaults
        path = self._defaults_path(party)
        if save and path is not None:
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(defaults.SerializeToString(deterministic=True))
            tmp.replace(path)

    def _keep_items(self, party: str, reply: scoring_pb2.MaskReply) -> None:
        """The items a source names for its splits now (none if its approval stopped allowing it)."""
        named = {si.split_id: (si.item, si.description) for si in reply.split_items}
        if self._items.get(party) != named:
            self._items[party] = named
            self._labels = None

    def _category(self, party: str) -> str:
        return "platform" if party == self.model.party else self._fanout.sources[party].category

    def _reason_labels(self) -> tuple[np.ndarray, list[dict[Direction, ScoreReason]]]:
        """(keys, labels) 0/1 matrix summing split contributions into reasons, and each reason per direction.
        A split whose owner names no item (or an unusable one) counts toward its owner's category."""
        if self._labels is not None:
            return self._labels
        labels: dict[tuple[str, str, str], int] = {}
        reasons: list[dict[Direction, ScoreReason]] = []
        of_key = []
        for owner, sid in self._attribution.keys:
            if owner == self.model.party:
                item = self._own_splits.get(sid, "")
                described = (item, self._own_descriptions.get(item) or item.replace("_", " ")) if item else ("", "")
            else:
                described = self._items.get(owner, {}).get(sid, ("", ""))
            try:
                made = {d: ScoreReason(owner, self._category(owner), *described, d)
                        for d in (Direction.RAISES_RISK, Direction.LOWERS_RISK)}
            except ScorerContractError:
                log.warning("unusable item named for a split", extra={"source": owner})
                described = ("", "")
                made = {d: ScoreReason(owner, self._category(owner), "", "", d)
                        for d in (Direction.RAISES_RISK, Direction.LOWERS_RISK)}
            label = (owner, *described)
            if label not in labels:
                labels[label] = len(reasons)
                reasons.append(made)
            of_key.append(labels[label])
        matrix = np.zeros((len(of_key), len(reasons)))
        matrix[np.arange(len(of_key)), of_key] = 1.0
        self._labels = (matrix, reasons)
        return self._labels

    def _reasons(self, leaves: np.ndarray, missing: Sequence[str]) -> list[tuple[ScoreReason, ...]]:
        """Each row's reasons, ordered by contribution (raising the risk most first), then missing sources."""
        matrix, labels = self._reason_labels()
        by_split = self._attribution.contributions(leaves)
        for k, (owner, _) in enumerate(self._attribution.keys):
            if owner in missing:  # its splits followed their defaults: not its data's doing
                by_split[:, k] = 0.0
        by_reason = by_split @ matrix
        # Largest contribution first; reasons that moved nothing sort after every one that did.
        key = np.where(np.abs(by_reason) > 1e-9, -by_reason, np.inf)
        top = np.argsort(key, axis=1, kind="stable")[:, : self._scale.max_reasons]
        moved = np.take_along_axis(key, top, axis=1)
        flagged = tuple(ScoreReason(p, self._category(p), "", "", Direction.SOURCE_MISSING) for p in missing)
        up, down = Direction.RAISES_RISK, Direction.LOWERS_RISK
        return [(*(labels[r][up if k < 0 else down] for r, k in zip(rows, keys, strict=True) if k != np.inf),
                 *flagged) for rows, keys in zip(top.tolist(), moved.tolist(), strict=True)]

    def missing_importance(self, parties: Sequence[str]) -> float:
        """The share of the model's total split gain that `parties`' splits carry."""
        return float(min(1.0, sum(self._gain_share.get(p, 0.0) for p in parties)))

    def close(self) -> None:
        """Stop refreshing precomputed tables; the channels belong to whoever built the scorer."""
        self._stop_privately()

    def _asked(self) -> Sequence[str]:
        return self.model.parties

    def _reader(self, rows: int) -> Callable[[object], scoring_pb2.MaskReply]:
        return _as_is

    def _request(self, ids: list[str], use_id: str, requester: str = "", purpose: str = ""
                 ) -> scoring_pb2.MaskRequest:
        return scoring_pb2.MaskRequest(model_id=self.model_id, ids=ids, use_id=use_id, institution=requester,
                                       purpose=purpose)

    def _combine(self, ids: list[str], fanout: FanOut[scoring_pb2.MaskReply], purpose: str) -> ScoreBatch:
        replies = fanout.replies
        for party, reply in replies.items():
            if reply.HasField("defaults"):
                self._keep_defaults(party, reply.defaults)
            self._keep_items(party, reply)
        missing = fanout.failed
        share = self.missing_importance(missing)
        if missing and (fanout.refused or not self._availability.rule(purpose).degrades(share)
                        or any(p not in self._defaults for p in missing)):
            return fanout.unavailable(ids)
        n = len(ids)
        known = np.array([cid in self._own_ids for cid in ids], dtype=bool)
        for reply in replies.values():
            known |= np.unpackbits(np.frombuffer(reply.known, dtype=np.uint8), count=n, bitorder="little").astype(bool)
        own = self._features.rows(ids)
        own_table = FeatureTable(own.names, own.values)
        combined = self._combiner.combine(own_table, {p: r.masks for p, r in replies.items()},
                                          {p: self._defaults[p] for p in missing})
        margin, contributions = combined.margin, combined.contributions
        binary = self.model.objective is Objective.BINARY_LOGISTIC
        adverse = None if binary else adverse_probability(self.model.objective, transform(self.model.objective, margin))
        reasons_of = self._reasons(combined.leaves, missing)
        snapshots = ((self.model.party, self._own_snapshot),
                     *((p, r.snapshot) for p, r in sorted(replies.items()) if r.snapshot))
        results: list[ScoreResult] = []
        for i, cid in enumerate(ids):
            if not known[i]:
                results.append(held_by_nobody(cid, missing))
                continue
            if adverse is None:
                pd = 1.0 / (1.0 + math.exp(-margin[i]))
                score = int(round(self._scale.score(-float(margin[i]))))
            else:
                pd = float(adverse[i])
                odds = min(max(pd, _PD_FLOOR), 1.0 - _PD_FLOOR)
                score = int(round(self._scale.score(math.log((1.0 - odds) / odds))))
            # A missing source's splits followed their defaults: its "contribution" is not its data's.
            ranked = sorted(((contributions[p][i], p) for p in contributions if p not in missing), reverse=True)
            reasons = []
            for value, party in ranked:
                if value <= 1e-9 or len(reasons) >= self._scale.max_reasons:
                    break
                category = "platform" if party == self.model.party else self._fanout.sources[party].category
                if category not in reasons:
                    reasons.append(category)
            results.append(ScoreOutcome(cid, float(min(max(pd, 0.0), 1.0)), score, grade_of(score), tuple(reasons),
                                        self.model_id, self.model_version, degraded=bool(missing),
                                        missing_sources=missing, missing_importance=share if missing else 0.0,
                                        reasons=reasons_of[i], snapshots=snapshots))
        return ScoreBatch(tuple(results))


def _as_is(reply: object) -> scoring_pb2.MaskReply:
    return reply  # type: ignore[return-value]
