"""Online scoring with a published scorecard: each source node returns its points for a batch of ids over
mTLS, the platform adds its own points and the base points, and reads PD, score, grade and reason codes.

Reason codes are the (at most four) platform variables, or other parties' data categories, that lost the
most points against their best bins. Sources return sums only: no feature value, bin or cut point.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, wait

import grpc

from federation.grpc_channel import PeerChannels
from federation.pki import Identity
from federation.proto import scorecard_part_pb2 as part_pb
from federation.proto import scoring_pb2, scoring_pb2_grpc
from models.scorecard import PartyScores, ScorecardError
from models.scorecard.scoring import combine, from_message
from models.scorecard.stored import party_scorecard, placeable, scaling
from platform_node.federated_scorer import SourceEndpoint, grade_of
from platform_node.scoring_api import FailureCode, ScoreBatch, ScoreFailure, ScoreOutcome, ScoreResult
from tables import LoadedTable
from tables.features import FeatureIndex

log = logging.getLogger("xyd.platform.scoring")


class FederatedScorecardScorer:
    """A `Scorer` over a published scorecard whose points tables live at the platform and the sources.

    Partial-failure policy: FAIL_ENTERPRISE, as for SecureBoost: no score without every party's points.
    """

    def __init__(self, *, model_id: str, model_version: str, part: part_pb.StoredPart, own_table: LoadedTable,
                 label_column: str, sources: Sequence[SourceEndpoint], channels: PeerChannels,
                 max_workers: int = 8) -> None:
        self.model_id, self.model_version = model_id, model_version
        self.card = party_scorecard(part)
        self.params = scaling(part)
        self.base = part.base_points
        self._own = own_table
        self._label = label_column
        self._features = FeatureIndex(own_table, exclude=[label_column])
        self._own_ids = {str(c) for c in own_table.ids}
        self._sources = {s.party: s for s in sources}
        missing = set(part.hosts) - set(self._sources)
        if missing:
            raise ValueError(f"the scorecard needs parties that have no endpoint: {sorted(missing)}")
        self._channels = channels
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="scorecard-fanout")

    @property
    def parties(self) -> tuple[str, ...]:
        return tuple(sorted(self._sources))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _ask(self, party: str, ids: Sequence[str], deadline_s: float, use_id: str):
        endpoint = self._sources[party]
        stub = scoring_pb2_grpc.PartyScoringStub(self._channels.get(endpoint.address, Identity.parse(party)))
        return stub.Points(scoring_pb2.PointsRequest(model_id=self.model_id, ids=list(ids), use_id=use_id),
                           timeout=deadline_s)

    def score(self, credit_codes: Sequence[str], *, purpose: str, deadline_s: float, use_id: str = ""
              ) -> ScoreBatch:
        ids = list(credit_codes)
        if not ids:
            return ScoreBatch(())
        futures = {p: self._pool.submit(self._ask, p, ids, deadline_s, use_id) for p in self._sources}
        wait(futures.values(), timeout=deadline_s + 1.0)
        replies: dict[str, PartyScores] = {}
        failed: list[str] = []
        for party, future in futures.items():
            if not future.done():
                future.cancel()
                failed.append(party)
                continue
            try:
                replies[party] = from_message(future.result(), len(ids))
            except grpc.RpcError as exc:
                log.warning("scorecard points failed", extra={"source": party, "code": exc.code().name})
                failed.append(party)
            except ScorecardError as exc:
                log.error("scorecard reply refused", extra={"source": party, "error": str(exc)})
                failed.append(party)
        if failed:
            return ScoreBatch(tuple(
                ScoreFailure(cid, FailureCode.SOURCE_UNAVAILABLE,
                             "a source node did not answer in time; no score without every part",
                             failed_sources=tuple(failed)) for cid in ids))
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
