"""The passive party's protocol steps (pure: messages in, messages out; no channel).

A passive party holds features and a public key. Per tree it receives the encrypted gradient vector,
per depth it returns packed encrypted candidate sums under opaque ids, and for each split it owns it
partitions the node's rows and keeps the rule in its lookup table.
"""

from __future__ import annotations

import hashlib
import secrets

import numpy as np

from federation.proto import secureboost_pb2 as pb
from models.secureboost import histogram as hist
from models.secureboost.binning import FeatureBins, FeatureTable
from models.secureboost.cell_plan import CellGroup
from models.secureboost.cipher import HistogramEvaluator, Vector
from models.secureboost.errors import InvalidDataError, ProtocolError
from models.secureboost.fixed_point import PackingLayout
from models.secureboost.histogram import ColumnHistograms
from models.secureboost.model import PassiveModel, SplitRule
from models.secureboost.split_ids import KEY_BYTES, ids_to_bytes
from models.secureboost.state import PassiveState
from models.secureboost.tree import left, parent, right

# Version of the training messages (TrainSetup.format_version); both roles must speak the same.
FORMAT_VERSION = 1


def unpack_rows(bits: bytes, n: int) -> np.ndarray:
    """Booleans from a packbits bitmap of n entries (padding bits must be zero)."""
    if len(bits) != (n + 7) // 8:
        raise ProtocolError("bitmap bytes", (n + 7) // 8, len(bits))
    flags = np.unpackbits(np.frombuffer(bits, dtype=np.uint8))
    if np.any(flags[n:]):
        raise ProtocolError("bitmap padding", 0, int(flags[n:].sum()))
    return flags[:n].astype(bool)


def feature_sample(n_features: int, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Columns used by one tree (colsample_bytree), at least one when the party has any."""
    if n_features == 0 or rate >= 1.0:
        return np.arange(n_features, dtype=np.int64)
    k = max(1, int(round(rate * n_features)))
    return np.sort(rng.choice(n_features, size=k, replace=False)).astype(np.int64)


def party_rng(seed: int, party: str) -> np.random.Generator:
    """A party's own reproducible stream (column sampling), distinct per party for the same job seed."""
    tag = int.from_bytes(hashlib.sha256(party.encode("utf-8")).digest()[:8], "big")
    return np.random.default_rng([seed, tag])


class PassiveTrainer:
    """Steps of one passive party for one training job."""

    def __init__(self, party: str, features: FeatureTable, setup: pb.TrainSetup, evaluator: HistogramEvaluator, *,
                 split_key: bytes | None = None, validation: FeatureTable | None = None,
                 rng: np.random.Generator | None = None, columns: ColumnHistograms | None = None,
                 allow_insecure_for_tests: bool = False) -> None:
        if setup.format_version != FORMAT_VERSION:
            raise ProtocolError("setup format version", FORMAT_VERSION, setup.format_version)
        if features.n_rows != setup.n_rows:
            raise InvalidDataError(f"{features.n_rows} feature rows, the job has {setup.n_rows}")
        if validation is not None and (validation.names != features.names or validation.n_rows != setup.n_valid_rows):
            raise InvalidDataError("validation features must have the training columns and the job's row count")
        if setup.n_valid_rows and validation is None:
            raise InvalidDataError("the job has a validation set: this party must supply its validation features")
        self.party = party
        self._features = features
        self._setup = setup
        self._evaluator = evaluator
        self._key = split_key if split_key is not None else secrets.token_bytes(KEY_BYTES)
        if len(self._key) < 16:
            raise InvalidDataError("split key must have at least 16 bytes")
        self._validation = validation
        self._rng = rng if rng is not None else party_rng(setup.seed, party)
        self._bins = FeatureBins.fit(features, setup.bins)
        self._binned = self._bins.transform(features)
        self._rules: dict[int, SplitRule] = {}
        self._trees: list[tuple[int, ...]] = []
        self._tree = -1
        self._root_plan: tuple[bytes, list[CellGroup]] | None = None
        # Histogram accumulation on the party's own cluster (column_workers.py); encrypted vectors only.
        self._columns = columns if evaluator.joint_cells else None
        if self._columns is not None:
            self._columns.setup(setup.public_key, self._binned, allow_insecure_for_tests=allow_insecure_for_tests)

    # ---- per tree --------------------------------------------------------------------------------

    def start_tree(self, start: pb.TreeStart, vector: Vector) -> None:
        """Take the tree's gradient vector: entries follow the rows set in start.rows, in row order."""
        if start.tree != len(self._trees):
            raise ProtocolError("tree index", len(self._trees), start.tree)
        sampled = unpack_rows(start.rows, self._setup.n_rows)
        if int(sampled.sum()) != start.n_values or self._evaluator.size(vector) != start.n_values:
            raise ProtocolError("gradient vector length", int(sampled.sum()), self._evaluator.size(vector))
        self._tree = start.tree
        self._layout = PackingLayout.from_proto(start.layout)
        self._vector = vector
        if self._columns is not None:
            self._columns.start_tree(vector, self._evaluator.value_bytes)
        self._position = np.full(self._setup.n_rows, -1, dtype=np.int64)
        self._position[sampled] = np.arange(start.n_values, dtype=np.int64)
        features = feature_sample(self._features.n_features, self._setup.colsample_bytree, self._rng)
        self._bin_layout = hist.BinLayout.select(self._bins, features)
        self._node_rows: dict[int, np.ndarray] = {0: np.arange(self._setup.n_rows, dtype=np.int64)}
        self._histograms: dict[int, hist.NodeHistogram] = {}
        self._pending: dict[int, dict[int, hist.Candidate]] = {}
        self._depth = 0

    def build_histograms(self, plan: pb.DepthPlan) -> pb.HistogramReply:
        """Apply the previous depth's partitions, then sum (or derive) and report the planned nodes."""
        self._expect(plan.tree, plan.depth)
        for p in plan.partitions:
            self._partition(p.node, unpack_rows(p.left, self._rows(p.node).size))
        previous = self._histograms
        current: dict[int, hist.NodeHistogram] = {}
        for node in plan.build:
            rows = self._rows(node)
            positions = self._position[rows]
            keep = positions >= 0
            binned = self._binned[rows[keep]]
            if self._columns is not None:
                current[node] = self._columns.build(self._evaluator, positions[keep], rows[keep], binned,
                                                    self._bin_layout)
                continue
            cells = self._root_cells(keep, binned) if node == 0 and self._evaluator.joint_cells else None
            current[node] = hist.build(self._evaluator, self._vector, positions[keep], binned, self._bin_layout,
                                       cells)
        for node in plan.derive:
            sibling = node + 1 if node % 2 else node - 1
            if parent(node) not in previous or sibling not in current:
                raise ProtocolError(f"derivation of node {node}", "parent and sibling histograms", "missing")
            current[node] = hist.derive(self._evaluator, previous[parent(node)], current[sibling])
        self._histograms = current
        reply = pb.HistogramReply(tree=plan.tree, depth=plan.depth, value_bytes=self._evaluator.packed_bytes)
        self._pending = {}
        for node in plan.report:
            if node not in current:
                raise ProtocolError(f"report of node {node}", "a built or derived node", sorted(current))
            found = hist.candidates(self._evaluator, current[node], self._bin_layout, self._bins,
                                    self._features.names, self._key, plan.tree, node)
            self._pending[node] = found.meaning
            reply.nodes.add(node=node, count=int(found.ids.size), split_ids=ids_to_bytes(found.ids),
                            sums=self._evaluator.pack(found.sums, self._layout))
        return reply

    def apply_split(self, request: pb.SplitRequest) -> pb.SplitReply:
        """Partition the rows of every node whose winning split this party owns; remember the rule."""
        self._expect(request.tree, request.depth)
        reply = pb.SplitReply(tree=request.tree, depth=request.depth)
        for chosen in request.splits:
            candidate = self._pending.get(chosen.node, {}).get(chosen.split_id)
            if candidate is None:
                raise ProtocolError(f"split id at node {chosen.node}", "one this party offered", chosen.split_id)
            if chosen.split_id in self._rules:
                raise ProtocolError("split id", "a fresh id", chosen.split_id)
            rule = SplitRule(chosen.split_id, request.tree, chosen.node, self._features.names[candidate.feature],
                             self._bins.threshold(candidate.feature, candidate.last_left_bin), candidate.missing_left)
            self._rules[chosen.split_id] = rule
            rows = self._rows(chosen.node)
            go_left = rule.go_left(self._features.values[rows, candidate.feature])
            reply.partitions.add(node=chosen.node, left=np.packbits(go_left).tobytes())
        self._pending = {}
        self._depth += 1
        return reply

    def finish_tree(self, end: pb.TreeEnd) -> pb.LeafMasks | None:
        """Record the final shape, drop rules of pruned splits; return validation masks if there is a set."""
        if end.tree != self._tree:
            raise ProtocolError("tree index", self._tree, end.tree)
        internal = tuple(sorted(end.internal))
        kept = set(internal)
        for sid in [s for s, r in self._rules.items() if r.tree == end.tree and r.node not in kept]:
            del self._rules[sid]
        self._trees.append(internal)
        self._vector = None
        self._histograms = {}
        if self._validation is None:
            return None
        masks = self._model(trees=[end.tree]).leaf_masks(self._validation)
        masks.trees[0].tree = end.tree
        return masks

    def absorb_verdict(self, verdict: pb.TreeVerdict) -> bool:
        """True if training goes on; on a stop, keep only the trees the active party keeps."""
        if verdict.tree != self._tree:
            raise ProtocolError("tree index", self._tree, verdict.tree)
        if verdict.stop:
            keep = verdict.keep_trees
            if not (1 <= keep <= len(self._trees)):
                raise ProtocolError("kept trees", f"1..{len(self._trees)}", keep)
            self._trees = self._trees[:keep]
            self._rules = {s: r for s, r in self._rules.items() if r.tree < keep}
        return not verdict.stop

    def model(self) -> PassiveModel:
        """This party's model part (its lookup table never leaves it)."""
        return self._model(trees=range(len(self._trees)))

    # ---- checkpoints (after a verdict: every party holds the same trees) ----------------------------

    def snapshot(self) -> PassiveState:
        """This party's state between trees: key, tree shapes, lookup table, column-sampling generator."""
        return PassiveState(self._key, tuple(self._trees), dict(self._rules), self._rng.bit_generator.state)

    def restore(self, state: PassiveState) -> None:
        """Continue from a `snapshot` taken after a verdict (a fresh trainer of the same training only)."""
        if self._trees:
            raise ProtocolError("trainer to restore", "a fresh one", f"{len(self._trees)} trees in")
        self._key = state.key
        self._trees = list(state.trees)
        self._rules = dict(state.rules)
        self._rng.bit_generator.state = dict(state.rng)
        self._tree = len(self._trees) - 1

    # ---- internals -------------------------------------------------------------------------------

    def _model(self, trees: range | list[int]) -> PassiveModel:
        index = list(trees)
        renumber = {t: i for i, t in enumerate(index)}
        rules = {s: SplitRule(r.split_id, renumber[r.tree], r.node, r.feature, r.threshold, r.missing_left)
                 for s, r in self._rules.items() if r.tree in renumber}
        return PassiveModel(self.party, self._features.names, tuple(self._trees[t] for t in index), rules)

    def _root_cells(self, sampled: np.ndarray, binned: np.ndarray) -> list[CellGroup]:
        """The root's joint-cell plan, reused while the root's rows and features stay the same (every tree
        without row or column sampling): planning the root costs tens of milliseconds."""
        key = hashlib.blake2b(self._bin_layout.features.tobytes() + np.packbits(sampled).tobytes()).digest()
        if self._root_plan is None or self._root_plan[0] != key:
            self._root_plan = (key, hist.plan_for(self._bin_layout, binned))
        return self._root_plan[1]

    def _expect(self, tree: int, depth: int) -> None:
        if (tree, depth) != (self._tree, self._depth):
            raise ProtocolError("tree/depth", (self._tree, self._depth), (tree, depth))

    def _rows(self, node: int) -> np.ndarray:
        rows = self._node_rows.get(node)
        if rows is None:
            raise ProtocolError(f"node {node}", "a node reached by the current tree", "unknown")
        return rows

    def _partition(self, node: int, go_left: np.ndarray) -> None:
        rows = self._rows(node)
        self._node_rows[left(node)] = rows[go_left]
        self._node_rows[right(node)] = rows[~go_left]
