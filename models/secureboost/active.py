"""The active party's protocol steps (pure: messages in, messages out; no channel).

The active party holds the labels, the private key and possibly features of its own. Its own features
are handled by an in-process `PassiveTrainer` on the plain backend, so they go through exactly the same
histogram, candidate and partition code as every passive party's, without leaving the process.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from federation.proto import secureboost_pb2 as pb
from models.secureboost import gain as scoring
from models.secureboost.binning import FeatureTable
from models.secureboost.cipher import GradientEncryptor
from models.secureboost.errors import (
    InvalidDataError,
    InvalidParameterError,
    PackingOverflowError,
    ProtocolError,
)
from models.secureboost.fixed_point import PackingLayout, decode, encode, fraction_bits_for
from models.secureboost.metrics import evaluate
from models.secureboost.model import ActiveModel, TreeNodes
from models.secureboost.objective import base_margin, check_labels, gradients, row_weights, transform
from models.secureboost.params import SecureBoostParams
from models.secureboost.passive import FORMAT_VERSION, PassiveTrainer, party_rng, unpack_rows
from models.secureboost.plain_cipher import PlainEncryptor, PlainEvaluator
from models.secureboost.sampling import sample_rows
from models.secureboost.split_ids import ids_from_bytes
from models.secureboost.state import ActiveState
from models.secureboost.tree import combine_masks, depth_of, leaves_of, left, right

DEFAULT_CHUNK_VALUES = 4096
# Softmax layouts lower the fraction bits to fit every class's slot, never below this resolution (2^-16).
MIN_FRACTION_BITS = 16


@dataclass(frozen=True)
class Validation:
    """The active party's side of a validation set: its features and the labels (rows aligned by PSI)."""

    features: FeatureTable
    labels: np.ndarray


@dataclass(frozen=True)
class TreeRecord:
    """Progress of one tree: its splits by owner and the validation score, if any."""

    tree: int
    splits: Mapping[str, int]
    valid_score: float | None


class ActiveTrainer:
    """Steps of the active party: plan, absorb histograms, choose splits, absorb partitions, finish trees."""

    def __init__(self, params: SecureBoostParams, labels: np.ndarray, features: FeatureTable,
                 encryptor: GradientEncryptor, passives: Sequence[str], *, party: str = "platform/main",
                 sample_weight: np.ndarray | None = None, validation: Validation | None = None,
                 split_key: bytes | None = None, rng: np.random.Generator | None = None,
                 chunk_values: int = DEFAULT_CHUNK_VALUES) -> None:
        if len(set(passives)) != len(passives) or party in passives:
            raise InvalidDataError(f"passive parties must be distinct and differ from {party}: {list(passives)}")
        if params.encryption != (encryptor.scheme != "plain"):
            raise InvalidParameterError(f"encryption={params.encryption} but the cipher is {encryptor.scheme!r}")
        self.params = params
        self.party = party
        self.passives = tuple(passives)
        self._y = check_labels(params.objective, labels, params.num_class)
        if features.n_rows != self._y.size:
            raise InvalidDataError(f"{features.n_rows} feature rows for {self._y.size} labels")
        if params.early_stopping_rounds and validation is None:
            raise InvalidDataError("early stopping needs a validation set")
        self._w = row_weights(params.objective, self._y, params.scale_pos_weight, sample_weight)
        self._encryptor = encryptor
        self._chunk_values = chunk_values
        self._rng = rng if rng is not None else np.random.default_rng(params.seed)
        self._base = base_margin(params.objective, self._y, self._w)
        self._margin = self._margins(self._y.size)
        self._validation = validation
        if validation is not None:
            self._valid_y = check_labels(params.objective, validation.labels, params.num_class)
            self._valid_margin = self._margins(self._valid_y.size)
        self._setup = pb.TrainSetup(
            format_version=FORMAT_VERSION, scheme=encryptor.scheme, public_key=encryptor.public_bytes(),
            capacity_bits=encryptor.capacity_bits, n_rows=self._y.size,
            n_valid_rows=0 if validation is None else validation.features.n_rows, n_trees=params.n_trees,
            max_depth=params.max_depth, bins=params.bins, colsample_bytree=params.colsample_bytree,
            seed=params.seed)
        self._own_eval = PlainEvaluator(encryptor.capacity_bits)
        self._own_decrypt = PlainEncryptor(encryptor.capacity_bits)
        self._own = PassiveTrainer(party, features, self._setup, self._own_eval, split_key=split_key,
                                   validation=None if validation is None else validation.features,
                                   rng=party_rng(params.seed, party))
        self._trees: list[TreeNodes] = []
        self.history: list[TreeRecord] = []
        self._best: tuple[float, int] | None = None
        self._stopped = False

    # ---- session ---------------------------------------------------------------------------------

    def setup(self) -> pb.TrainSetup:
        """The first message to every passive party: scheme, public key and the shared parameters."""
        return self._setup

    @property
    def finished(self) -> bool:
        return self._stopped

    # ---- per tree --------------------------------------------------------------------------------

    def start_tree(self) -> tuple[pb.TreeStart, Iterator[pb.VectorChunk]]:
        """Gradients of the current margins, encoded and encrypted once per row; chunks are encrypted lazily."""
        if self._stopped:
            raise ProtocolError("training state", "running", "stopped")
        t = len(self._trees)
        g, h = gradients(self.params.objective, self._margin, self._y, self._w)
        sample = sample_rows(self.params, g, h, self._rng)
        rows = sample.in_vector
        G, H, layout = self._encode(sample.g, sample.h, rows)
        self._encryptor.use_layout(layout)
        n_values = int(rows.sum())
        start = pb.TreeStart(tree=t, rows=np.packbits(rows).tobytes(), n_values=n_values, layout=layout.to_proto(),
                             n_chunks=-(-n_values // self._chunk_values), value_bytes=self._encryptor.value_bytes)
        self._own.start_tree(start, self._own_eval.from_pairs(G[rows], H[rows]))
        self._G, self._H, self._in_vector, self._layout = G, H, rows, layout
        self._rows: dict[int, np.ndarray] = {0: np.arange(self._y.size, dtype=np.int64)}
        self._splits: dict[int, tuple[str, int, float]] = {}
        self._partitions: list[pb.NodePartition] = []
        self._depth = 0
        self._report: list[int] = []
        pairs = layout.pairs(G[rows], H[rows])
        return start, self._chunks(pairs)

    def _encode(self, g: np.ndarray, h: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, PackingLayout]:
        """Fixed point and the tree's layout. Softmax rows need one slot per class in a plaintext: with many
        classes, rows or a small key the fraction bits drop until they fit (a coarser, still exact grid)."""
        bits = fraction_bits_for(g[rows], h[rows])
        while True:
            G, H = encode(g, bits), encode(h, bits)
            G[~rows], H[~rows] = 0, 0
            try:
                return G, H, PackingLayout.for_tree(G[rows], H[rows], bits, self._encryptor.capacity_bits)
            except PackingOverflowError:
                if G.ndim == 1 or bits <= MIN_FRACTION_BITS:
                    raise
                bits -= 1

    def _margins(self, n: int) -> np.ndarray:
        outputs = self.params.outputs
        return np.full(n if outputs == 1 else (n, outputs), self._base)

    def _chunks(self, pairs: list[int]) -> Iterator[pb.VectorChunk]:
        step = self._chunk_values
        for i, at in enumerate(range(0, len(pairs), step)):
            part = pairs[at:at + step]
            yield pb.VectorChunk(index=i, count=len(part), data=self._encryptor.encrypt(part))

    def plan_depth(self) -> pb.DepthPlan:
        """Nodes to split at this depth; the smaller child of each pair is summed, the larger derived.

        An empty `report` means the tree is complete (send it anyway: passive parties wait for it).
        """
        d = self._depth
        plan = pb.DepthPlan(tree=len(self._trees), depth=d, partitions=self._partitions)
        if d >= self.params.max_depth:
            raise ProtocolError("depth", f"< {self.params.max_depth}", d)
        if d == 0:
            self._report = [0] if self._splittable(0) else []
            plan.build.extend(self._report)
        else:
            self._report = []
            for p in sorted(n for n in self._splits if depth_of(n) == d - 1):
                a, b = left(p), right(p)
                wanted = [c for c in (a, b) if self._splittable(c)]
                if not wanted:
                    continue
                small, large = (a, b) if self._count(a) <= self._count(b) else (b, a)
                plan.build.append(small)
                if large in wanted:
                    plan.derive.append(large)
                self._report.extend(wanted)
            self._report.sort()
        plan.report.extend(self._report)
        self._plan = plan
        self._own_reply = self._own.build_histograms(plan) if self._report else None
        return plan

    def absorb_histograms(self, replies: Mapping[str, pb.HistogramReply]) -> dict[str, pb.SplitRequest]:
        """Decrypt every party's candidates, choose each node's best split, ask the owners to apply it."""
        best: dict[int, scoring.SplitChoice | None] = {n: None for n in self._report}
        own = {self.party: self._own_reply}
        for party in (self.party, *self.passives):
            reply = own[party] if party == self.party else replies.get(party)
            if reply is None:
                raise ProtocolError("histogram replies", f"one from {party}", sorted(replies))
            for node, choice in self._score(party, reply).items():
                best[node] = scoring.better(best[node], choice)
        requests = {p: pb.SplitRequest(tree=len(self._trees), depth=self._depth) for p in (self.party, *self.passives)}
        self._chosen: dict[int, scoring.SplitChoice] = {}
        for node in self._report:
            choice = best[node]
            if choice is not None and choice.gain > scoring.MIN_SPLIT_GAIN:
                self._chosen[node] = choice
                requests[choice.party].splits.add(node=node, split_id=choice.split_id)
        self._own_request = requests.pop(self.party)
        return requests

    def absorb_partitions(self, replies: Mapping[str, pb.SplitReply]) -> None:
        """Record how the owners partitioned their nodes' rows; children become next depth's nodes."""
        got = {self.party: self._own.apply_split(self._own_request), **replies}
        partitions: list[pb.NodePartition] = []
        for party in (self.party, *self.passives):
            reply = got.get(party)
            if reply is None:
                raise ProtocolError("split replies", f"one from {party}", sorted(replies))
            expected = sorted(n for n, c in self._chosen.items() if c.party == party)
            if (reply.tree, reply.depth) != (len(self._trees), self._depth) or \
                    sorted(p.node for p in reply.partitions) != expected:
                raise ProtocolError(f"partitions from {party}", expected, sorted(p.node for p in reply.partitions))
            partitions.extend(reply.partitions)
        for p in sorted(partitions, key=lambda m: m.node):
            rows = self._rows[p.node]
            go_left = unpack_rows(p.left, rows.size)
            self._rows[left(p.node)], self._rows[right(p.node)] = rows[go_left], rows[~go_left]
            choice = self._chosen[p.node]
            self._splits[p.node] = (choice.party, choice.split_id, choice.gain)
        self._partitions = sorted(partitions, key=lambda m: m.node)
        self._depth += 1

    def finish_tree(self) -> pb.TreeEnd:
        """Prune (gamma), set leaf weights, update margins; the TreeEnd tells every party the final shape."""
        splits = dict(self._splits)
        changed = True
        while changed:
            changed = False
            for node in sorted(splits, reverse=True):
                if left(node) not in splits and right(node) not in splits and splits[node][2] < self.params.gamma:
                    del splits[node]
                    changed = True
        lam, mcw, lr = self.params.reg_lambda, self.params.min_child_weight, self.params.learning_rate
        leaves = {}
        for leaf in leaves_of(splits):
            G, H = self._sums(leaf)
            if self.params.outputs == 1:
                weight: Any = scoring.leaf_weight(G, H, lam, mcw) * lr
            else:
                weight = tuple((scoring.leaf_weights(G, H, lam, mcw) * lr).tolist())
            leaves[leaf] = weight
            self._margin[self._rows[leaf]] += np.asarray(weight)
        tree = TreeNodes(splits, leaves)
        self._trees.append(tree)
        end = pb.TreeEnd(tree=len(self._trees) - 1, internal=sorted(splits))
        self._own_valid_masks = self._own.finish_tree(end)
        owners: dict[str, int] = {}
        for owner, _, _ in splits.values():
            owners[owner] = owners.get(owner, 0) + 1
        self.history.append(TreeRecord(end.tree, owners, None))
        return end

    def absorb_validation(self, masks: Mapping[str, pb.LeafMasks]) -> None:
        """Add the new tree to the validation margins from every party's leaf masks and score it."""
        if self._validation is None:
            raise ProtocolError("validation masks", "none (no validation set)", sorted(masks))
        t = len(self._trees) - 1
        parts = [self._own_valid_masks.trees[0]]
        for party in self.passives:
            if party not in masks or len(masks[party].trees) != 1:
                raise ProtocolError("validation masks", f"one tree from {party}", sorted(masks))
            parts.append(masks[party].trees[0])
        leaf = combine_masks(t, parts, self._valid_y.size)
        self._valid_margin += self._trees[t].leaf_weights()[leaf]
        metric = self.params.metric
        score = evaluate(metric, self._valid_y, transform(self.params.objective, self._valid_margin))
        self.history[-1] = TreeRecord(t, self.history[-1].splits, score)
        improved = self._best is None or (score > self._best[0] if metric.larger_is_better else score < self._best[0])
        if improved:
            self._best = (score, t)

    def verdict(self) -> pb.TreeVerdict:
        """Whether another tree follows; on a stop, how many trees the model keeps (early stopping)."""
        t = len(self._trees) - 1
        rounds = self.params.early_stopping_rounds
        if rounds and self._best is None:
            raise ProtocolError("validation", "masks absorbed before the verdict", "none")
        stop = t + 1 >= self.params.n_trees or bool(rounds and t - self._best[1] >= rounds)
        keep = (self._best[1] + 1) if (rounds and stop) else t + 1
        verdict = pb.TreeVerdict(tree=t, stop=stop, keep_trees=keep)
        self._own.absorb_verdict(verdict)
        if stop:
            self._trees = self._trees[:keep]
            self._stopped = True
        return verdict

    def model(self) -> ActiveModel:
        """The active party's model part (after the last verdict)."""
        return ActiveModel(self.party, self.params.objective, self._base, self.passives, tuple(self._trees),
                           self._own.model(), self.params)

    def train_margin(self) -> np.ndarray:
        """Current margins of the training rows (what the next tree's gradients start from)."""
        return self._margin.copy()

    # ---- checkpoints (after a verdict: every party holds the same trees) ----------------------------

    def snapshot(self) -> ActiveState:
        """The active party's state between trees (after `verdict`): trees, margins, validation score,
        row-sampling generator and its own features' trainer."""
        return ActiveState(tuple(self._trees), self._margin.copy(),
                           None if self._validation is None else self._valid_margin.copy(), self._best,
                           tuple(self.history), self._stopped, self._rng.bit_generator.state, self._own.snapshot())

    def restore(self, state: ActiveState) -> None:
        """Continue from a `snapshot` (a fresh trainer of the same training only)."""
        if self._trees:
            raise ProtocolError("trainer to restore", "a fresh one", f"{len(self._trees)} trees in")
        if state.margin.shape != self._margin.shape or (state.valid_margin is None) != (self._validation is None):
            raise ProtocolError("checkpoint rows", self._margin.shape, state.margin.shape)
        self._trees = list(state.trees)
        self._margin = state.margin.copy()
        if state.valid_margin is not None:
            self._valid_margin = state.valid_margin.copy()
        self._best = state.best
        self.history = list(state.history)
        self._stopped = state.stopped
        self._rng.bit_generator.state = dict(state.rng)
        self._own.restore(state.own)

    # ---- internals -------------------------------------------------------------------------------

    def _count(self, node: int) -> int:
        return int(self._in_vector[self._rows[node]].sum())

    def _sums(self, node: int) -> tuple[Any, Any]:
        """The node's (G, H) as floats, or as arrays of one per class for softmax."""
        G, H = self._int_sums(node)
        bits = self._layout.fraction_bits
        if self.params.outputs == 1:
            return float(G) / 2**bits, float(H) / 2**bits
        return decode(G, bits), decode(H, bits)

    def _int_sums(self, node: int) -> tuple[Any, Any]:
        rows = self._rows[node]
        G = np.sum(self._G[rows], axis=0, dtype=np.int64)
        H = np.sum(self._H[rows], axis=0, dtype=np.int64)
        return (int(G), int(H)) if self.params.outputs == 1 else (G, H)

    def _splittable(self, node: int) -> bool:
        if depth_of(node) >= self.params.max_depth or self._count(node) < 2:
            return False
        _, H = self._sums(node)
        H = float(np.sum(H))  # softmax: all classes' hessian together
        return H > 0.0 and H >= 2.0 * self.params.min_child_weight

    def _score(self, party: str, reply: pb.HistogramReply) -> dict[int, scoring.SplitChoice | None]:
        decryptor = self._own_decrypt if party == self.party else self._encryptor
        if (reply.tree, reply.depth) != (len(self._trees), self._depth):
            raise ProtocolError(f"histograms from {party}", (len(self._trees), self._depth), (reply.tree, reply.depth))
        if sorted(n.node for n in reply.nodes) != self._report:
            raise ProtocolError(f"histogram nodes from {party}", self._report, sorted(n.node for n in reply.nodes))
        out: dict[int, scoring.SplitChoice | None] = {}
        layout = self._layout
        for node in reply.nodes:
            ids = ids_from_bytes(node.split_ids)
            if ids.size != node.count:
                raise ProtocolError(f"split ids of node {node.node}", node.count, ids.size)
            packed = decryptor.decrypt(node.sums, layout.n_packed(node.count))
            GL, HL = layout.unpack_pairs(packed, node.count)
            G, H = self._int_sums(node.node)
            gains = (scoring.candidate_gains if self.params.outputs == 1 else scoring.multi_candidate_gains)(
                GL, HL, G, H, layout.fraction_bits, self.params.reg_lambda, self.params.min_child_weight)
            out[node.node] = scoring.best_of(party, ids, gains)
        return out

