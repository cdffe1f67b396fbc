"""The source node's share of online scoring: leaf masks of a published model for a batch of enterprises."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import grpc
import numpy as np

from errors import IntegrityFailure, InvalidInput, NotFound, Refused
from federation.job_ids import InvalidJobId, check_model_id, inside
from federation.proto import scoring_pb2, scoring_pb2_grpc, woe_pb2
from federation.server import peer_identity
from models.scorecard import PartyScorecard
from models.scorecard.scoring import to_message
from models.scorecard.stored import StoredPartError, party_scorecard, placeable, read_part
from models.secureboost import FeatureTable, ModelIntegrityError, PassiveModel
from models.secureboost.mask_plan import LeafMaskPlan
from tables import LoadedTable
from tables.features import FeatureIndex

log = logging.getLogger("xyd.source.scoring")
MAX_BATCH = 10_000
SCORECARD_PART = "scorecard-part.bin"
Part = TypeVar("Part", LeafMaskPlan, PartyScorecard)


class PartyScoringServicer(scoring_pb2_grpc.PartyScoringServicer):
    """Answers the platform only; loads each published model part once, after checking its integrity."""

    def __init__(self, table: LoadedTable, models_dir: Path) -> None:
        self._table = table
        self._features = FeatureIndex(table)
        self._models_dir = models_dir
        self._models: dict[str, LeafMaskPlan] = {}
        self._cards: dict[str, PartyScorecard] = {}
        self._lock = threading.Lock()
        self._index = {str(cid) for cid in table.ids}

    def _model(self, model_id: str) -> LeafMaskPlan | None:
        with self._lock:
            if model_id not in self._models:
                path = self._part_path(model_id, "secureboost-passive.bin")
                if path is None or not path.exists():
                    return None
                self._models[model_id] = LeafMaskPlan(PassiveModel.from_bytes(path.read_bytes()))
            return self._models[model_id]

    def _part_path(self, model_id: str, name: str) -> Path | None:
        """The file of a published part, or None for a model id that is malformed or would leave models/."""
        try:
            return inside(self._models_dir, check_model_id(model_id)) / name
        except InvalidJobId:
            return None

    @staticmethod
    def _admit(request: scoring_pb2.MaskRequest | scoring_pb2.PointsRequest, context: grpc.ServicerContext,
               load: Callable[[str], Part | None], corrupt: tuple[type[Exception], ...], what: str) -> Part:
        """The published part a request names, after checking the caller is the platform and the batch size."""
        caller = peer_identity(context)
        if caller.role != "platform":
            raise Refused(f"{caller.party} may not request scoring shares")
        if len(request.ids) > MAX_BATCH:
            raise InvalidInput(f"at most {MAX_BATCH} ids per request")
        try:
            part = load(request.model_id)
        except corrupt as exc:
            raise IntegrityFailure(f"{what} {request.model_id} is corrupt: {exc}",
                                   public=f"the published {what} of that model is corrupt on this node") from exc
        if part is None:
            # The public text names no model id: an error never echoes what the caller sent.
            raise NotFound(f"no published {what} {request.model_id} on this node",
                           public=f"no published {what} of that model on this node")
        return part

    def LeafMasks(self, request: scoring_pb2.MaskRequest, context: grpc.ServicerContext) -> scoring_pb2.MaskReply:
        model = self._admit(request, context, self._model, (ModelIntegrityError,), "model part")
        ids = list(request.ids)
        matrix = self._features.rows(ids)
        masks = model.leaf_masks(FeatureTable(matrix.names, matrix.values))
        known = np.packbits(np.array([cid in self._index for cid in ids], dtype=bool), bitorder="little")
        log.info("scoring share served", extra={"model": request.model_id, "rows": len(ids), "use": request.use_id})
        return scoring_pb2.MaskReply(masks=masks, known=known.tobytes())

    def _card(self, model_id: str) -> PartyScorecard | None:
        with self._lock:
            if model_id not in self._cards:
                path = self._part_path(model_id, SCORECARD_PART)
                if path is None or not path.exists():
                    return None
                self._cards[model_id] = party_scorecard(read_part(path, "scorecard"))
            return self._cards[model_id]

    def Points(self, request: scoring_pb2.PointsRequest, context: grpc.ServicerContext) -> woe_pb2.PartyPoints:
        card = self._admit(request, context, self._card, (StoredPartError,), "scorecard")
        ids = list(request.ids)
        found = np.array([cid in self._index for cid in ids], dtype=bool)
        matrix = self._features.rows(ids)
        columns = {n: matrix.values[:, k] for k, n in enumerate(matrix.names)}
        # Rows this node does not hold score as at training, where they fell into the missing bin.
        reply = to_message(card.score(placeable(card, columns)))
        del reply.found[:]
        reply.found.extend(found.tolist())
        log.info("scorecard points served", extra={"model": request.model_id, "rows": len(ids),
                                                   "use": request.use_id})
        return reply

