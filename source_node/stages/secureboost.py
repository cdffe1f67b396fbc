"""A source node's side of a SecureBoost job: align its rows, answer as a passive party, publish its part.

The node never sees a label or a gradient in the clear (unless its own policy allows plaintext training,
off by default), and keeps its thresholds in its own model part.
"""

from __future__ import annotations

from typing import Any

from federation.alignment import apply_alignment
from federation.config import NodePolicy
from federation.job_files import read_intersection, store_part
from federation.proto import alignment_pb2
from federation.tasks import TaskContext, TaskFailed
from jobspec import Stage, StageParams
from jobspec import tags as tag
from models.secureboost import FeatureTable, PassiveModel, run_passive
from source_node.compute import ComputeSettings, column_histograms
from tables import LoadedTable
from tables.features import feature_matrix


def make_train_handler(table: LoadedTable, policy: NodePolicy, compute: ComputeSettings | None = None):
    """The `train` stage as a passive party; histograms on the node's Ray cluster with `[compute] backend =
    "ray"` (source_node/compute.py)."""
    compute = compute or ComputeSettings()

    def handle(ctx: TaskContext) -> dict[str, Any]:
        job = StageParams.parse(ctx.params)
        active, settings = job.roster.active, job.require_train()
        timeout = settings.timeout_seconds
        channel = ctx.channel.scoped(tag.scope(Stage.TRAIN))
        inter = read_intersection(ctx.work_dir)
        alignment = channel.recv(active, tag.ALIGN, alignment_pb2.SplitAlignment, timeout)
        (ctx.work_dir / "secureboost-alignment.bin").write_bytes(alignment.SerializeToString())
        own = feature_matrix(table, rows=inter)
        train = FeatureTable(own.names, apply_alignment(alignment.train, own.values))
        holdout = FeatureTable(own.names, apply_alignment(alignment.holdout, own.values))
        boost = settings.secureboost
        early = boost is not None and boost.early_stopping_rounds > 0 and holdout.n_rows > 0
        ctx.progress(f"passive party: {len(own.names)} features over {len(inter)} shared rows", 0.0)
        with column_histograms(compute) as columns:
            model = run_passive(channel, active, features=train, validation=holdout if early else None,
                                allow_plaintext=policy.allow_plaintext_training,
                                allow_insecure_for_tests=policy.allow_insecure_keys_for_tests, timeout=timeout,
                                columns=columns,
                                resume=ctx.checkpoints.load(ctx.resume_from) if ctx.resume_from else None,
                                on_checkpoint=ctx.checkpoints.save)
        channel.send(active, tag.MASKS_TRAIN, model.leaf_masks(train))
        channel.send(active, tag.MASKS_HOLDOUT, model.leaf_masks(holdout))
        (ctx.work_dir / "secureboost-passive.bin").write_bytes(model.to_bytes())
        importance = {name: imp.splits for name, imp in model.feature_importance().items()}
        return {"features": len(own.names), "shared_rows": len(inter),
                "splits_owned": sum(importance.values())}

    return handle


def make_evaluate_handler(table: LoadedTable, policy: NodePolicy):
    """The `evaluate` stage: take part in the leave-one-out rounds this node is not left out of."""

    def handle(ctx: TaskContext) -> dict[str, Any]:
        job = StageParams.parse(ctx.params)
        active, timeout = job.roster.active, job.require_train().timeout_seconds
        channel = ctx.channel.scoped(tag.scope(Stage.EVALUATE))
        plan = channel.recv(active, tag.CONTRIBUTION_PLAN, alignment_pb2.ContributionPlan, timeout)
        rounds = list(plan.excluded)
        if not rounds:
            return {"rounds": 0}
        saved = ctx.work_dir / "secureboost-alignment.bin"
        if not saved.exists():
            raise TaskFailed("NO_MODEL", f"no training alignment in job {ctx.job_id}: run the train stage first")
        alignment = alignment_pb2.SplitAlignment.FromString(saved.read_bytes())
        own = feature_matrix(table, rows=read_intersection(ctx.work_dir))
        train = FeatureTable(own.names, apply_alignment(alignment.train, own.values))
        holdout = FeatureTable(own.names, apply_alignment(alignment.holdout, own.values))
        names = [tag.FULL_ROUND] + [tag.without_round(k) for k, excluded in enumerate(rounds)
                                    if excluded != ctx.channel.me]
        for name in names:
            scoped = channel.scoped(name)
            model = run_passive(scoped, active, features=train, allow_plaintext=policy.allow_plaintext_training,
                                allow_insecure_for_tests=policy.allow_insecure_keys_for_tests, timeout=timeout)
            scoped.send(active, tag.MASKS_HOLDOUT, model.leaf_masks(holdout))
        return {"rounds": len(names)}

    return handle


def make_publish_handler():
    """The `publish` stage: keep this node's model part under models/<model id>/ with its hash."""

    def handle(ctx: TaskContext) -> dict[str, Any]:
        source = ctx.work_dir / "secureboost-passive.bin"
        if not source.exists():
            raise TaskFailed("NO_MODEL", f"no trained model part in job {ctx.job_id}")
        data = source.read_bytes()
        PassiveModel.from_bytes(data)  # integrity check before it becomes servable
        return store_part(ctx.work_dir, f"sb-{ctx.job_id}", "secureboost-passive.bin", data)

    return handle
