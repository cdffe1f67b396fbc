"""The source node's share of online scoring for a batch of enterprises: leaf masks of a published SecureBoost
model, points of a scorecard, or the partial linear score of a vertical LR (raw or WOE).

Under governance every answer is admitted first: the model part's approval (recorded beside it at publish)
must still be APPROVED and valid, allow online serving to the institution that asked, cover the model's
items, and have queries left (one per enterprise). The decision is cached per approval and institution until
the approval's status changes, so a revocation refuses the very next request. A refusal is
PERMISSION_DENIED with the refusal code first in its details; the platform then treats this source as
unavailable (its partial-failure policy).

Freshness: every answer states the snapshot it was computed from (the table's snapshot hash with the model
part's); `replace_table` swaps the data atomically, and each call reads one data state from start to end, so
no answer mixes two snapshots. `Decisions` streams the precomputed table of a model part (private scoring,
docs/protocols/private-scoring.md): admitted under the part's approval at each build, never per enterprise.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

import grpc
import numpy as np

from consent.governance import Approval, ApprovalRefused, RefusalCode, Task, TaskKind
from consent.governance.usage_lines import UsageKind
from errors import IntegrityFailure, InvalidInput, NotFound, Refused
from federation.job_ids import InvalidJobId, check_model_id, inside
from federation.proto import scorecard_part_pb2, scoring_pb2, scoring_pb2_grpc, woe_pb2
from federation.server import peer_identity
from models.scorecard import PartyScorecard
from models.scorecard.scoring import to_message
from models.scorecard.stored import StoredPartError, lr_features, party_scorecard, placeable, read_part
from models.secureboost import FeatureTable, ModelIntegrityError, PassiveModel
from models.secureboost.mask_plan import LeafMaskPlan
from source_node.governance import SourceGovernance
from source_node.governance.stages import read_model_approval
from source_node.scoring_settings import ScoringSettings
from tables import LoadedTable
from tables.features import FeatureIndex

log = logging.getLogger("xyd.source.scoring")
MAX_BATCH = 10_000
CHUNK_BYTES = 2 << 20  # a precomputed-table chunk stays well under gRPC's 4 MiB message limit
SCORECARD_PART = "scorecard-part.bin"
_NOT_AN_ID = ""  # never a credit code: its row is the answer for an enterprise this node does not hold
LR_PART = "hetero-lr-part.bin"
Part = TypeVar("Part", LeafMaskPlan, PartyScorecard, scorecard_part_pb2.StoredPart)


@dataclass(frozen=True)
class Served(Generic[Part]):
    """A loaded part, the items it reads, their encoded columns and the approval it was built under."""

    part: Part
    items: tuple[str, ...]
    features: FeatureIndex
    approval: dict | None
    splits: tuple[tuple[int, str], ...] = ()  # SecureBoost: (split id, the item it reads) of each own split
    snapshot: str = ""  # the data snapshot answers from this part state: hash(table snapshot, part bytes)
    stored: scorecard_part_pb2.StoredPart | None = None  # scorecard or LR: the part (its training aggregates)


@dataclass
class _Data:
    """One version of the node's table and everything derived from it; a call reads exactly one."""

    table: LoadedTable
    index: set[str]
    models: dict[str, Served[LeafMaskPlan]] = field(default_factory=dict)
    cards: dict[str, Served[PartyScorecard]] = field(default_factory=dict)
    linear: dict[str, Served[scorecard_part_pb2.StoredPart]] = field(default_factory=dict)


def snapshot_of(table: LoadedTable, part: bytes) -> str:
    """The snapshot id of answers from `part` over `table`: both hashes bound together (32 hex digits)."""
    return hashlib.sha256(b"xyd-scoring-snapshot-v1" + bytes.fromhex(table.snapshot_sha256)
                          + hashlib.sha256(part).digest()).hexdigest()[:32]


class PartyScoringServicer(scoring_pb2_grpc.PartyScoringServicer):
    """Answers the platform only; loads each published model part once, after checking its integrity."""

    def __init__(self, table: LoadedTable, models_dir: Path, governance: SourceGovernance | None = None,
                 settings: ScoringSettings | None = None, clock: Callable[[], float] = time.time) -> None:
        self._models_dir = models_dir
        self._governance = governance
        self._settings = settings or ScoringSettings()
        self._clock = clock
        self._lock = threading.Lock()
        self._data = _Data(table, {str(cid) for cid in table.ids})
        # Per loaded part (they live as long as its data state): the split items named under the catalogue then.
        self._named: dict[int, tuple[object, list[scoring_pb2.SplitItem]]] = {}

    @property
    def table(self) -> LoadedTable:
        return self._data.table

    def replace_table(self, table: LoadedTable) -> None:
        """Serve `table` from the next call on; calls under way finish on the data they started with."""
        with self._lock:
            if table.snapshot_sha256 == self._data.table.snapshot_sha256:
                return
            self._data = _Data(table, {str(cid) for cid in table.ids})
            self._named.clear()
        log.info("scoring data replaced", extra={"rows": len(table), "snapshot": table.snapshot_sha256[:16]})

    @staticmethod
    def _served(data: _Data, folder: Path, part: Part, raw: bytes, items: tuple[str, ...],
                splits: tuple[tuple[int, str], ...] = (), stored: scorecard_part_pb2.StoredPart | None = None
                ) -> Served[Part]:
        # Only the part's own columns are encoded for it: no other column is read to answer.
        return Served(part, items, FeatureIndex(data.table.restricted(items)), read_model_approval(folder), splits,
                      snapshot_of(data.table, raw), stored)

    def _model(self, data: _Data, model_id: str) -> Served[LeafMaskPlan] | None:
        with self._lock:
            if model_id not in data.models:
                path = self._part_path(model_id, "secureboost-passive.bin")
                if path is None or not path.exists():
                    return None
                raw = path.read_bytes()
                model = PassiveModel.from_bytes(raw)
                splits = tuple(sorted((sid, rule.feature) for sid, rule in model.rules.items()))
                data.models[model_id] = self._served(data, path.parent, LeafMaskPlan(model), raw,
                                                     tuple(model.features), splits)
            return data.models[model_id]

    def _part_path(self, model_id: str, name: str) -> Path | None:
        """The file of a published part, or None for a model id that is malformed or would leave models/."""
        try:
            return inside(self._models_dir, check_model_id(model_id)) / name
        except InvalidJobId:
            return None

    def _admit(self, request: scoring_pb2.MaskRequest | scoring_pb2.PointsRequest, context: grpc.ServicerContext,
               data: _Data, load: Callable[[_Data, str], Served[Part] | None], corrupt: tuple[type[Exception], ...],
               what: str) -> tuple[Served[Part], Approval | None]:
        """The published part a request names, after checking the caller, the batch size and the approval
        (returned with it; None without governance)."""
        caller = peer_identity(context)
        if caller.role != "platform":
            raise Refused(f"{caller.party} may not request scoring shares")
        if len(request.ids) > MAX_BATCH:
            raise InvalidInput(f"at most {MAX_BATCH} ids per request")
        served = self._load(request.model_id, data, load, corrupt, what)
        approval = None if self._governance is None else self._approve(served, request, caller.party)
        return served, approval

    def _load(self, model_id: str, data: _Data, load: Callable[[_Data, str], Served[Part] | None],
              corrupt: tuple[type[Exception], ...], what: str) -> Served[Part]:
        try:
            served = load(data, model_id)
        except corrupt as exc:
            raise IntegrityFailure(f"{what} {model_id} is corrupt: {exc}",
                                   public=f"the published {what} of that model is corrupt on this node") from exc
        if served is None:
            # The public text names no model id: an error never echoes what the caller sent.
            raise NotFound(f"no published {what} {model_id} on this node",
                           public=f"no published {what} of that model on this node")
        return served

    def _approve(self, served: Served, request, caller: str) -> Approval:
        """Admit one answer under the approval the part was built under; count it for the usage reports."""
        record = served.approval
        try:
            if record is None:
                raise ApprovalRefused(RefusalCode.APPROVAL_MISSING, "the model was published without an approval")
            institution = request.institution
            governance = self._governance
            approval = governance.answers.admit(Task(
                kind=TaskKind.SCORE, leader=caller, algorithm=str(record.get("algorithm", "")),
                approval_id=record["approval_id"], key_bits=int(record.get("key_bits", 0)), items=served.items,
                queries=len(request.ids), institution=institution, institution_kind=institution.split("/")[0]))
            governance.usage.count(UsageKind.SCORE, day=governance.clock().date().isoformat(),
                                   model_id=request.model_id, institution=institution, purpose=request.purpose,
                                   approval_id=approval.approval_id, n=len(request.ids))
            return approval
        except ApprovalRefused as exc:
            log.warning("scoring refused", extra={"model": request.model_id, "code": exc.code.value,
                                                  "institution": request.institution, "detail": exc.detail})
            raise

    def LeafMasks(self, request: scoring_pb2.MaskRequest, context: grpc.ServicerContext) -> scoring_pb2.MaskReply:
        data = self._data  # one data state for the whole answer
        served, approval = self._admit(request, context, data, self._model, (ModelIntegrityError,), "model part")
        ids = list(request.ids)
        matrix = served.features.rows(ids)
        masks = served.part.leaf_masks(FeatureTable(matrix.names, matrix.values))
        known = np.packbits(np.array([cid in data.index for cid in ids], dtype=bool), bitorder="little")
        log.info("scoring share served", extra={"model": request.model_id, "rows": len(ids), "use": request.use_id})
        return scoring_pb2.MaskReply(masks=masks, known=known.tobytes(), defaults=served.part.default_masks(),
                                     split_items=self._split_items(served, approval), snapshot=served.snapshot)

    def Decisions(self, request: scoring_pb2.DecisionsRequest, context: grpc.ServicerContext
                  ) -> Iterator[scoring_pb2.DecisionChunk]:
        """The precomputed answers of one published part (SecureBoost masks, scorecard points or vertical-LR
        partial scores) for every enterprise this node holds, in chunks.

        Admitted under the part's approval at each build (status, validity, items, online serving); the
        approval's serving scope and end travel with the table, for the platform to enforce per score."""
        caller = peer_identity(context)
        if caller.role != "platform":
            raise Refused(f"{caller.party} may not request scoring shares")
        if not self._settings.precomputed:
            raise Refused("this node does not serve precomputed tables ([scoring] precomputed = false)")
        data = self._data  # one data state for the whole table
        served = self._table_part(request.model_id, data)
        ids = [str(cid) for cid in data.table.ids]
        header, approval = self._table_header(served, caller.party, request.model_id, len(ids))
        if request.have_snapshot == served.snapshot:
            yield scoring_pb2.DecisionChunk(**header, unchanged=True, last=True)
            return
        log.info("precomputed table served", extra={"model": request.model_id, "rows": len(ids),
                                                    "snapshot": served.snapshot})
        part = served.part
        if isinstance(part, LeafMaskPlan):
            header["defaults"] = part.default_masks()
            header["split_items"] = self._split_items(served, approval)
            # Bytes per row: the masks plus the id and protobuf framing.
            row_bytes = sum(len(t.bits) for t in header["defaults"].trees) + 32
        elif isinstance(part, PartyScorecard):  # what this node answers for an enterprise it does not hold
            absent = to_message(part.score(placeable(part, {v.name: np.full(1, np.nan) for v in part.variables})))
            del absent.found[:]
            absent.found.append(False)
            _with_training_points(served, absent)
            header["absent"] = absent
            row_bytes = 8 * (1 + len(absent.categories)) + 1 + 32
        else:
            items = self._lr_items(served, approval)
            absent = _linear_answer(served, [_NOT_AN_ID], lambda cid: False, bool(items))
            absent.items.extend(items)
            header["linear_absent"] = absent
            row_bytes = 8 + 4 + 32
        step = max(1, CHUNK_BYTES // row_bytes)
        for start in range(0, max(len(ids), 1), step):
            chunk = ids[start: start + step]
            yield scoring_pb2.DecisionChunk(**header, ids=chunk, **self._table_rows(served, chunk, approval),
                                            last=start + step >= len(ids))
            header = {"snapshot": served.snapshot}

    def _table_part(self, model_id: str, data: _Data) -> Served:
        """The published part of `model_id` a precomputed table is built from, whatever its kind."""
        for name, load, corrupt, what in (("secureboost-passive.bin", self._model, (ModelIntegrityError,), "model part"),
                                          (LR_PART, self._lr, (StoredPartError,), "vertical LR part")):
            path = self._part_path(model_id, name)
            if path is not None and path.exists():
                return self._load(model_id, data, load, corrupt, what)
        return self._load(model_id, data, self._card, (StoredPartError,), "scorecard")

    def _table_rows(self, served: Served, ids: list[str], approval: Approval | None) -> dict:
        """One chunk's answers for `ids` (all of them held here), in the field of the part's kind."""
        part = served.part
        if isinstance(part, LeafMaskPlan):
            matrix = served.features.rows(ids)
            return {"masks": part.leaf_masks(FeatureTable(matrix.names, matrix.values))}
        if isinstance(part, PartyScorecard):
            matrix = served.features.rows(ids)
            points = to_message(part.score(placeable(part, {n: matrix.values[:, k]
                                                            for k, n in enumerate(matrix.names)})))
            del points.found[:]
            points.found.extend([True] * len(ids))
            return {"points": points}
        linear = _linear_answer(served, ids, lambda cid: True, bool(self._lr_items(served, approval)))
        linear.ClearField("training_mean")  # the aggregates travel once, in the first chunk's absent row
        linear.ClearField("training_spread")
        return {"linear": linear}

    def _table_header(self, served: Served, caller: str, model_id: str, rows: int
                      ) -> tuple[dict, Approval | None]:
        """The fields of a table's first chunk and the approval admitting it (None without governance); refuses
        (PERMISSION_DENIED) unless the approval allows online serving now."""
        valid_until = self._clock() + self._settings.max_age_s
        header: dict = {"snapshot": served.snapshot, "rows_total": rows}
        if self._governance is None:
            return {**header, "valid_until": valid_until}, None
        record = served.approval
        try:
            if record is None:
                raise ApprovalRefused(RefusalCode.APPROVAL_MISSING, "the model was published without an approval")
            # Built for no institution in particular: checked as the part's serving (status, validity, leader,
            # algorithm, items); the institutions it may serve go with the table and the platform keeps to them.
            approval = self._governance.answers.admit(Task(
                kind=TaskKind.PUBLISH, leader=caller, algorithm=str(record.get("algorithm", "")),
                approval_id=record["approval_id"], key_bits=int(record.get("key_bits", 0)), items=served.items))
            if not approval.terms.serving.online:
                raise ApprovalRefused(RefusalCode.COUNTERPARTY_NOT_APPROVED, "online serving is not approved")
        except ApprovalRefused as exc:
            log.warning("precomputed table refused", extra={"model": model_id, "code": exc.code.value,
                                                            "detail": exc.detail})
            raise
        serving = approval.terms.serving
        return {**header, "approval_id": approval.approval_id, "institutions": list(serving.institutions),
                "institution_kinds": list(serving.institution_kinds),
                "valid_until": min(valid_until, approval.terms.not_after.timestamp())}, approval

    def _split_items(self, served: Served[LeafMaskPlan], approval: Approval | None) -> list[scoring_pb2.SplitItem]:
        """The item (and its public catalogue description) each own split reads, if the approval lets reasons
        name items; nothing otherwise (nor without governance: no approval, no naming)."""
        if approval is None or self._governance is None or not approval.terms.serving.name_items:
            return []
        catalogue = self._governance.catalogue()
        cached = self._named.get(id(served))
        if cached is not None and cached[0] is catalogue:  # the same catalogue object: nothing was re-described
            return cached[1]
        out = []
        for split_id, name in served.splits:
            item = catalogue.item(name)
            if item is not None:  # an item no longer catalogued is not named
                out.append(scoring_pb2.SplitItem(split_id=split_id, item=name, description=item.description))
        self._named[id(served)] = (catalogue, out)
        return out

    def _card(self, data: _Data, model_id: str) -> Served[PartyScorecard] | None:
        with self._lock:
            if model_id not in data.cards:
                path = self._part_path(model_id, SCORECARD_PART)
                if path is None or not path.exists():
                    return None
                raw = path.read_bytes()
                stored = read_part(path, "scorecard")
                card = party_scorecard(stored)
                data.cards[model_id] = self._served(data, path.parent, card, raw,
                                                    tuple(v.name for v in card.variables), stored=stored)
            return data.cards[model_id]

    def Points(self, request: scoring_pb2.PointsRequest, context: grpc.ServicerContext) -> woe_pb2.PartyPoints:
        data = self._data
        served, _ = self._admit(request, context, data, self._card, (StoredPartError,), "scorecard")
        card = served.part
        ids = list(request.ids)
        found = np.array([cid in data.index for cid in ids], dtype=bool)
        matrix = served.features.rows(ids)
        columns = {n: matrix.values[:, k] for k, n in enumerate(matrix.names)}
        # Rows this node does not hold score as at training, where they fell into the missing bin.
        reply = to_message(card.score(placeable(card, columns)))
        del reply.found[:]
        reply.found.extend(found.tolist())
        reply.snapshot = served.snapshot
        _with_training_points(served, reply)
        log.info("scorecard points served", extra={"model": request.model_id, "rows": len(ids),
                                                   "use": request.use_id})
        return reply

    def _lr(self, data: _Data, model_id: str) -> Served[scorecard_part_pb2.StoredPart] | None:
        with self._lock:
            if model_id not in data.linear:
                path = self._part_path(model_id, LR_PART)
                if path is None or not path.exists():
                    return None
                part = read_part(path, "hetero_lr")
                if len(part.lr.variables) != len(part.lr.weights) \
                        or not set(part.lr.variables) <= {v.name for v in part.variables}:
                    raise StoredPartError("the LR part's weights do not match its variables")
                data.linear[model_id] = self._served(data, path.parent, part, path.read_bytes(),
                                                     tuple(part.lr.variables))
            return data.linear[model_id]

    def LinearScores(self, request: scoring_pb2.PointsRequest, context: grpc.ServicerContext
                     ) -> scoring_pb2.LinearReply:
        """This node's partial linear score w . x of each enterprise (its features transformed as at training:
        WOE or standardised; a row it does not hold as a row with every feature missing), its training mean
        and spread, and, if the approval lets reasons name items, the item that moved each row's part most."""
        data = self._data  # one data state for the whole answer
        served, approval = self._admit(request, context, data, self._lr, (StoredPartError,), "vertical LR part")
        ids = list(request.ids)
        items = self._lr_items(served, approval)
        reply = _linear_answer(served, ids, data.index.__contains__, bool(items))
        if reply.top_item:
            reply.items.extend(items)
        log.info("linear scores served", extra={"model": request.model_id, "rows": len(ids), "use": request.use_id})
        return reply

    def _lr_items(self, served: Served, approval: Approval | None) -> list[scoring_pb2.SplitItem]:
        """The part's catalogue items with their public descriptions, in weight order (split_id = position), if
        the approval lets reasons name items; nothing otherwise."""
        if approval is None or self._governance is None or not approval.terms.serving.name_items:
            return []
        catalogue = self._governance.catalogue()
        out = []
        for position, name in enumerate(served.part.lr.variables):
            item = catalogue.item(name)
            out.append(scoring_pb2.SplitItem(split_id=position, item=name if item is not None else "",
                                             description=item.description if item is not None else ""))
        return out


def _with_training_points(served: Served[PartyScorecard], reply: woe_pb2.PartyPoints) -> None:
    """Add the part's training aggregates (mean and spread of its points) to an answer, if the part has them."""
    stored = served.stored
    if stored is not None and len(stored.training_means) == len(served.part.variables):
        reply.mean_points, reply.spread_points = sum(stored.training_means), stored.training_spread


def _linear_answer(served: Served[scorecard_part_pb2.StoredPart], ids: list[str], held: Callable[[str], bool],
                   named: bool) -> scoring_pb2.LinearReply:
    """The LR part's answer for `ids`: partial scores, which ids this node holds, its snapshot, its training
    aggregates and (`named`: the approval lets reasons name items) each row's top item; not the items."""
    part = served.part
    matrix = served.features.rows(ids)
    columns = {n: matrix.values[:, k] for k, n in enumerate(matrix.names)}
    weights = np.asarray(part.lr.weights, dtype=np.float64)
    contributions = lr_features(part, columns) * weights
    scores = contributions.sum(axis=1)
    known = np.packbits(np.array([held(cid) for cid in ids], dtype=bool), bitorder="little")
    reply = scoring_pb2.LinearReply(scores=scores.tolist(), known=known.tobytes(), snapshot=served.snapshot)
    means = np.asarray(part.training_means, dtype=np.float64)
    if means.size == weights.size:
        reply.training_mean, reply.training_spread = float(means.sum()), part.training_spread
        if named and weights.size:
            # The item whose contribution moved the part most from its training mean, in the direction the
            # whole part moved (a row at its mean names none).
            moved = contributions - means
            direction = np.sign(scores - means.sum())[:, None]
            top = np.argmax(moved * direction, axis=1)
            best = np.take_along_axis(moved * direction, top[:, None], axis=1)[:, 0]
            reply.top_item.extend(np.where(best > 1e-12, top + 1, 0).tolist())
    return reply
