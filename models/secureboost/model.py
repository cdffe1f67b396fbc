"""Model parts at rest, one per party: the active part (trees, owners, opaque ids, leaf weights) and
each passive part (its own lookup table). Stored as protobuf inside a versioned, hashed envelope."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from federation.proto import secureboost_pb2 as pb
from models.secureboost.binning import FeatureTable
from models.secureboost.errors import InvalidDataError, ModelIntegrityError, ProtocolError
from models.secureboost.objective import transform
from models.secureboost.params import Objective, SecureBoostParams
from models.secureboost.tree import combine_masks, leaf_mask, leaves_of

FORMAT_VERSION = 1
ACTIVE_KIND = "secureboost/active"
PASSIVE_KIND = "secureboost/passive"


@dataclass(frozen=True)
class SplitRule:
    """One entry of an owner's lookup table: x goes left when x < threshold (missing: missing_left)."""

    split_id: int
    tree: int
    node: int
    feature: str
    threshold: float
    missing_left: bool

    def go_left(self, column: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(column), self.missing_left, column < self.threshold)


@dataclass(frozen=True)
class Importance:
    """Split count and total gain of one feature (or one party)."""

    splits: int
    gain: float


@dataclass(frozen=True)
class PassiveModel:
    """A party's own share of the model: tree shapes and the rules of the splits it owns."""

    party: str
    features: tuple[str, ...]
    trees: tuple[tuple[int, ...], ...]   # internal nodes of every tree
    rules: Mapping[int, SplitRule]       # by split id

    def leaf_masks(self, table: FeatureTable) -> pb.LeafMasks:
        """For every tree and row, the leaves this party's own splits allow (distributed prediction)."""
        if table.names != self.features:
            missing = sorted(set(self.features) - set(table.names))
            if missing:
                raise InvalidDataError(f"prediction table lacks features {missing}")
            table = FeatureTable(self.features, np.column_stack([table.column(n) for n in self.features])
                                 if self.features else np.empty((table.n_rows, 0)))
        by_tree: dict[int, dict[int, SplitRule]] = {}
        for rule in self.rules.values():
            by_tree.setdefault(rule.tree, {})[rule.node] = rule
        out = pb.LeafMasks(party=self.party, n_rows=table.n_rows)
        for t, internal in enumerate(self.trees):
            own = {node: (lambda r=rule: r.go_left(table.column(r.feature)))
                   for node, rule in by_tree.get(t, {}).items()}
            bits, n_leaves = leaf_mask(internal, own, table.n_rows)
            out.trees.add(tree=t, n_leaves=n_leaves, bits=bits.tobytes())
        return out

    def feature_importance(self, gains: Mapping[int, float] | None = None) -> dict[str, Importance]:
        """Split counts per own feature, and total gain if the active party shared its gains by split id."""
        count: dict[str, int] = {}
        gain: dict[str, float] = {}
        for rule in self.rules.values():
            count[rule.feature] = count.get(rule.feature, 0) + 1
            gain[rule.feature] = gain.get(rule.feature, 0.0) + float((gains or {}).get(rule.split_id, 0.0))
        return {f: Importance(count[f], gain[f]) for f in sorted(count)}

    def to_proto(self) -> pb.PassivePart:
        msg = pb.PassivePart(format_version=FORMAT_VERSION, party=self.party, features=list(self.features))
        for internal in self.trees:
            msg.trees.add(internal=sorted(internal))
        for sid in sorted(self.rules):
            r = self.rules[sid]
            msg.rules.add(split_id=sid, tree=r.tree, node=r.node, feature=r.feature, threshold=r.threshold,
                          missing_left=r.missing_left)
        return msg

    @classmethod
    def from_proto(cls, msg: pb.PassivePart) -> PassiveModel:
        _check_version(msg.format_version)
        rules = {r.split_id: SplitRule(r.split_id, r.tree, r.node, r.feature, r.threshold, r.missing_left)
                 for r in msg.rules}
        return cls(msg.party, tuple(msg.features), tuple(tuple(t.internal) for t in msg.trees), rules)

    def to_bytes(self) -> bytes:
        return _seal(PASSIVE_KIND, self.to_proto())

    @classmethod
    def from_bytes(cls, data: bytes) -> PassiveModel:
        msg = pb.PassivePart()
        msg.ParseFromString(_open(PASSIVE_KIND, data))
        return cls.from_proto(msg)


@dataclass(frozen=True)
class TreeNodes:
    """One tree as the active party knows it: who owns each split (by opaque id) and the leaf weights."""

    splits: Mapping[int, tuple[str, int, float]]  # node -> (owner, split id, gain)
    leaves: Mapping[int, float | tuple[float, ...]]  # node -> weight, or one per class (learning rate applied)

    def leaf_weights(self) -> np.ndarray:
        """Weights in sorted-leaf order, the order leaf masks use: (leaves,) or (leaves, classes)."""
        return np.array([self.leaves[n] for n in leaves_of(self.splits)], dtype=np.float64)


@dataclass(frozen=True)
class ActiveModel:
    """The active party's share: everything needed to combine masks into predictions, no passive rule."""

    party: str
    objective: Objective
    base_margin: float
    parties: tuple[str, ...]
    trees: tuple[TreeNodes, ...]
    own: PassiveModel
    params: SecureBoostParams = field(default_factory=SecureBoostParams)

    def predict_margin(self, own_table: FeatureTable, masks: Mapping[str, pb.LeafMasks]) -> np.ndarray:
        """Margins of a batch from the active party's own features and every passive party's leaf masks."""
        n = own_table.n_rows
        own = self.own.leaf_masks(own_table)
        for party in self.parties:
            if party not in masks:
                raise ProtocolError("leaf masks", f"one from {party}", sorted(masks))
            if masks[party].n_rows != n or len(masks[party].trees) != len(self.trees):
                raise ProtocolError(f"leaf masks of {party}", (n, len(self.trees)),
                                    (masks[party].n_rows, len(masks[party].trees)))
        outputs = self.params.outputs
        margin = np.full(n if outputs == 1 else (n, outputs), self.base_margin, dtype=np.float64)
        for t, tree in enumerate(self.trees):
            parts = [own.trees[t]] + [masks[p].trees[t] for p in self.parties]
            margin += tree.leaf_weights()[combine_masks(t, parts, n)]
        return margin

    def predict(self, own_table: FeatureTable, masks: Mapping[str, pb.LeafMasks]) -> np.ndarray:
        """Probabilities (logistic), class probabilities (rows, classes) for softmax, or values (regression)."""
        return transform(self.objective, self.predict_margin(own_table, masks))

    def importance_by_party(self) -> dict[str, Importance]:
        """Split count and total gain of every party (the active party included)."""
        count: dict[str, int] = {}
        gain: dict[str, float] = {}
        for tree in self.trees:
            for owner, _, g in tree.splits.values():
                count[owner] = count.get(owner, 0) + 1
                gain[owner] = gain.get(owner, 0.0) + g
        return {p: Importance(count[p], gain[p]) for p in sorted(count)}

    def split_gains(self, party: str) -> dict[int, float]:
        """Gain of each split owned by `party`, by split id: what the owner needs for its own importance."""
        return {sid: g for tree in self.trees for owner, sid, g in tree.splits.values() if owner == party}

    def own_feature_importance(self) -> dict[str, Importance]:
        return self.own.feature_importance(self.split_gains(self.party))

    def to_proto(self) -> pb.ActivePart:
        msg = pb.ActivePart(format_version=FORMAT_VERSION, party=self.party, objective=self.objective.value,
                            base_margin=self.base_margin, parties=list(self.parties),
                            params_json=self.params.to_json())
        for tree in self.trees:
            t = msg.trees.add()
            for node in sorted(tree.splits):
                owner, sid, gain = tree.splits[node]
                t.splits.add(node=node, owner=owner, split_id=sid, gain=gain)
            for node in sorted(tree.leaves):
                weight = tree.leaves[node]
                if isinstance(weight, tuple):
                    t.leaves.add(node=node, weights=weight)
                else:
                    t.leaves.add(node=node, weight=weight)
        msg.own.CopyFrom(self.own.to_proto())
        return msg

    @classmethod
    def from_proto(cls, msg: pb.ActivePart) -> ActiveModel:
        _check_version(msg.format_version)
        trees = tuple(TreeNodes({s.node: (s.owner, s.split_id, s.gain) for s in t.splits},
                                {leaf.node: tuple(leaf.weights) if leaf.weights else leaf.weight
                                 for leaf in t.leaves}) for t in msg.trees)
        return cls(msg.party, Objective(msg.objective), msg.base_margin, tuple(msg.parties), trees,
                   PassiveModel.from_proto(msg.own), SecureBoostParams.from_json(msg.params_json))

    def to_bytes(self) -> bytes:
        return _seal(ACTIVE_KIND, self.to_proto())

    @classmethod
    def from_bytes(cls, data: bytes) -> ActiveModel:
        msg = pb.ActivePart()
        msg.ParseFromString(_open(ACTIVE_KIND, data))
        return cls.from_proto(msg)


def _check_version(version: int) -> None:
    if version != FORMAT_VERSION:
        raise ModelIntegrityError("model format version", FORMAT_VERSION, version)


def _seal(kind: str, part: pb.ActivePart | pb.PassivePart) -> bytes:
    payload = part.SerializeToString(deterministic=True)
    envelope = pb.ModelFile(kind=kind, format_version=FORMAT_VERSION, payload=payload,
                            sha256=hashlib.sha256(payload).digest())
    return envelope.SerializeToString(deterministic=True)


def _open(kind: str, data: bytes) -> bytes:
    envelope = pb.ModelFile()
    try:
        envelope.ParseFromString(data)
    except Exception as exc:  # protobuf raises DecodeError, a plain Exception subclass
        raise ModelIntegrityError("model file", "a ModelFile message", f"undecodable bytes ({exc})") from exc
    if envelope.kind != kind:
        raise ModelIntegrityError("model kind", kind, envelope.kind)
    _check_version(envelope.format_version)
    digest = hashlib.sha256(envelope.payload).digest()
    if not hmac.compare_digest(digest, envelope.sha256):
        raise ModelIntegrityError("payload sha256", envelope.sha256.hex(), digest.hex())
    return envelope.payload
