"""The only SecureBoost code that touches a channel: it moves the step classes' messages between parties.

Pass a channel already scoped to the job (e.g. `channel.scoped("job-42/secureboost")`); tags below are
unique within it. The same runners work over `InMemoryChannel` (tests) and `GrpcChannel` (processes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from google.protobuf.message import Message

from federation.channel import Channel
from federation.proto import secureboost_pb2 as pb
from models.he.obfuscators import ObfuscatorSupply
from models.he.scheme import SecretKey
from models.secureboost.active import ActiveTrainer, TreeRecord, Validation
from models.secureboost.backends import encryptor_for, evaluator_for
from models.secureboost.binning import FeatureTable
from models.secureboost.checkpoint import Checkpoint, decode, encode, fingerprint
from models.secureboost.cipher import GradientEncryptor
from models.secureboost.errors import ProtocolError
from models.secureboost.fixed_point import PackingLayout
from models.secureboost.histogram import ColumnHistograms
from models.secureboost.model import ActiveModel, PassiveModel
from models.secureboost.params import SecureBoostParams
from models.secureboost.passive import PassiveTrainer

DEFAULT_TIMEOUT = 600.0

# Called after every verdict with the number of trees decided and this party's encoded checkpoint.
OnCheckpoint = Callable[[int, bytes], None]


class Tags:
    """Every message tag of the protocol, named once for both roles."""

    SETUP = "setup"

    @staticmethod
    def tree_start(t: int) -> str:
        return f"tree-{t}/start"

    @staticmethod
    def gradients(t: int, chunk: int) -> str:
        return f"tree-{t}/gradients-{chunk}"

    @staticmethod
    def plan(t: int, d: int) -> str:
        return f"tree-{t}/depth-{d}/plan"

    @staticmethod
    def histograms(t: int, d: int) -> str:
        return f"tree-{t}/depth-{d}/histograms"

    @staticmethod
    def split(t: int, d: int) -> str:
        return f"tree-{t}/depth-{d}/split"

    @staticmethod
    def partitions(t: int, d: int) -> str:
        return f"tree-{t}/depth-{d}/partitions"

    @staticmethod
    def tree_end(t: int) -> str:
        return f"tree-{t}/end"

    @staticmethod
    def validation(t: int) -> str:
        return f"tree-{t}/validation-masks"

    @staticmethod
    def verdict(t: int) -> str:
        return f"tree-{t}/verdict"

    @staticmethod
    def predict_request(batch: str) -> str:
        return f"predict-{batch}/request"

    @staticmethod
    def predict_masks(batch: str) -> str:
        return f"predict-{batch}/masks"


def run_active(channel: Channel, passives: Sequence[str], *, params: SecureBoostParams, labels: np.ndarray,
               features: FeatureTable, secret: SecretKey | None = None,
               obfuscators: ObfuscatorSupply | None = None, encryptor: GradientEncryptor | None = None, sample_weight: np.ndarray | None = None,
               validation: Validation | None = None, split_key: bytes | None = None,
               on_tree: Callable[[TreeRecord], None] | None = None, timeout: float = DEFAULT_TIMEOUT,
               resume: bytes | None = None, on_checkpoint: OnCheckpoint | None = None) -> ActiveModel:
    """Train as the active party with every passive party over `channel`; returns the active model part.

    With encryption on, pass the `secret` key (Paillier or OU from models.he) and ideally a running
    `ObfuscatorPool` as `obfuscators` (inline generation otherwise), or a ready `encryptor`.
    `on_checkpoint` receives this party's state after every verdict; `resume` continues from such a state
    (every passive party resumes from its own checkpoint of the same tree).
    """
    cipher = encryptor if encryptor is not None else encryptor_for(params.encryption, secret, obfuscators)
    trainer = ActiveTrainer(params, labels, features, cipher, passives, party=channel.me,
                            sample_weight=sample_weight, validation=validation, split_key=split_key)
    setup = trainer.setup()
    mark = setup_fingerprint(setup)
    if resume is not None:
        state = decode(resume, expected_fingerprint=mark)
        if state.active is None:
            raise ProtocolError("checkpoint role", "active", "passive")
        trainer.restore(state.active)
    _broadcast(channel, passives, Tags.SETUP, setup)
    while not trainer.finished:
        start, chunks = trainer.start_tree()
        t = start.tree
        _broadcast(channel, passives, Tags.tree_start(t), start)
        for chunk in chunks:
            _broadcast(channel, passives, Tags.gradients(t, chunk.index), chunk)
        for d in range(params.max_depth):
            plan = trainer.plan_depth()
            _broadcast(channel, passives, Tags.plan(t, d), plan)
            if not plan.report:
                break
            replies = {p: channel.recv(p, Tags.histograms(t, d), pb.HistogramReply, timeout) for p in passives}
            for party, request in trainer.absorb_histograms(replies).items():
                channel.send(party, Tags.split(t, d), request)
            trainer.absorb_partitions({p: channel.recv(p, Tags.partitions(t, d), pb.SplitReply, timeout)
                                       for p in passives})
        _broadcast(channel, passives, Tags.tree_end(t), trainer.finish_tree())
        if validation is not None:
            trainer.absorb_validation({p: channel.recv(p, Tags.validation(t), pb.LeafMasks, timeout)
                                       for p in passives})
        verdict = trainer.verdict()
        _broadcast(channel, passives, Tags.verdict(t), verdict)
        if on_checkpoint is not None:
            on_checkpoint(t + 1, encode(Checkpoint(t + 1, verdict.stop, mark, active=trainer.snapshot())))
        if on_tree is not None:
            on_tree(trainer.history[-1])
    return trainer.model()


def run_passive(channel: Channel, active: str, *, features: FeatureTable, validation: FeatureTable | None = None,
                allow_plaintext: bool = False, split_key: bytes | None = None,
                allow_insecure_for_tests: bool = False, timeout: float = DEFAULT_TIMEOUT,
                columns: ColumnHistograms | None = None, resume: bytes | None = None,
                on_checkpoint: OnCheckpoint | None = None) -> PassiveModel:
    """Train as a passive party: answer the active party until its last verdict; returns this party's part.

    `allow_plaintext` is this party's own policy: without it a request for plain gradients is refused.
    `columns` runs the histogram accumulation on the party's own cluster (column_workers.py), same result.
    `on_checkpoint` and `resume` work as in `run_active`.
    """
    setup = channel.recv(active, Tags.SETUP, pb.TrainSetup, timeout)
    evaluator = evaluator_for(setup, allow_plaintext=allow_plaintext, allow_insecure_for_tests=allow_insecure_for_tests)
    trainer = PassiveTrainer(channel.me, features, setup, evaluator, split_key=split_key, validation=validation,
                             columns=columns, allow_insecure_for_tests=allow_insecure_for_tests)
    mark = setup_fingerprint(setup)
    first = 0
    if resume is not None:
        state = decode(resume, expected_fingerprint=mark)
        if state.passive is None:
            raise ProtocolError("checkpoint role", "passive", "active")
        trainer.restore(state.passive)
        first = setup.n_trees if state.stopped else state.trees_done
    for t in range(first, setup.n_trees):
        start = channel.recv(active, Tags.tree_start(t), pb.TreeStart, timeout)
        layout = PackingLayout.from_proto(start.layout)
        parts = []
        for k in range(start.n_chunks):
            chunk = channel.recv(active, Tags.gradients(t, k), pb.VectorChunk, timeout)
            if chunk.index != k:
                raise ProtocolError("chunk index", k, chunk.index)
            parts.append(evaluator.load(chunk.data, chunk.count, layout))
        trainer.start_tree(start, evaluator.concat(parts))
        for d in range(setup.max_depth):
            plan = channel.recv(active, Tags.plan(t, d), pb.DepthPlan, timeout)
            if not plan.report:
                break
            channel.send(active, Tags.histograms(t, d), trainer.build_histograms(plan))
            request = channel.recv(active, Tags.split(t, d), pb.SplitRequest, timeout)
            channel.send(active, Tags.partitions(t, d), trainer.apply_split(request))
        masks = trainer.finish_tree(channel.recv(active, Tags.tree_end(t), pb.TreeEnd, timeout))
        if masks is not None:
            channel.send(active, Tags.validation(t), masks)
        going_on = trainer.absorb_verdict(channel.recv(active, Tags.verdict(t), pb.TreeVerdict, timeout))
        if on_checkpoint is not None:
            on_checkpoint(t + 1, encode(Checkpoint(t + 1, not going_on, mark, passive=trainer.snapshot())))
        if not going_on:
            break
    return trainer.model()


def predict_active(channel: Channel, passives: Sequence[str], model: ActiveModel, own: FeatureTable,
                   ids: Sequence[str], *, batch: str, timeout: float = DEFAULT_TIMEOUT) -> np.ndarray:
    """Score a batch: ask every passive party for its leaf masks of `ids`, combine with our own features."""
    request = pb.PredictRequest(ids=list(ids))
    _broadcast(channel, passives, Tags.predict_request(batch), request)
    masks = {p: channel.recv(p, Tags.predict_masks(batch), pb.LeafMasks, timeout) for p in passives}
    return model.predict(own, masks)


def serve_predict(channel: Channel, active: str, model: PassiveModel,
                  lookup: Callable[[Sequence[str]], FeatureTable], *, batch: str,
                  timeout: float = DEFAULT_TIMEOUT) -> int:
    """Answer one prediction batch with this party's leaf masks; returns the number of rows answered."""
    request = channel.recv(active, Tags.predict_request(batch), pb.PredictRequest, timeout)
    table = lookup(list(request.ids))
    if table.n_rows != len(request.ids):
        raise ProtocolError("rows for the requested ids", len(request.ids), table.n_rows)
    channel.send(active, Tags.predict_masks(batch), model.leaf_masks(table))
    return table.n_rows


def setup_fingerprint(setup: pb.TrainSetup) -> str:
    """What every party's checkpoint of one training shares: the setup without the (fresh) key."""
    return fingerprint({"format_version": setup.format_version, "n_rows": setup.n_rows,
                        "n_valid_rows": setup.n_valid_rows, "n_trees": setup.n_trees, "max_depth": setup.max_depth,
                        "bins": setup.bins, "colsample_bytree": setup.colsample_bytree, "seed": setup.seed})


def _broadcast(channel: Channel, parties: Sequence[str], tag: str, message: Message) -> None:
    for party in parties:
        channel.send(party, tag, message)

