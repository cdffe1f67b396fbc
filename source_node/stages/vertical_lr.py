"""A source node's side of a vertical LR or scorecard job: WOE binning as feature owner, LR as host,
publication of its part (points table or weights). Cut points and feature values never leave the node.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from federation.alignment import apply_alignment
from federation.config import NodePolicy
from federation.job_files import model_dir, read_intersection, record_part
from federation.proto import alignment_pb2
from federation.tasks import Handler, TaskContext, TaskFailed
from jobspec import Algorithm, Stage, StageParams, TrainSettings
from jobspec import tags as tag
from jobspec.parts import ARBITER, PART_FILE, model_id
from models.hetero_lr import PLAN_ERRORS, HostPolicy, run_host, serve_predict
from models.scorecard import ScorecardError
from models.scorecard.stored import (
    binning_part,
    lr_model,
    lr_part,
    owned_variable,
    read_part,
    record_training_stats,
    scorecard_part,
    training_matrices,
    write_part,
)
from models.woe import OwnerPolicy, run_feature_owner
from tables import LoadedTable
from tables.features import feature_matrix

ALIGNMENT_FILE = "lr-alignment.bin"
BINNING_FILE = "lr-binning.bin"
TRAINED_FILE = "lr-trained.bin"
RANKING_FILE = "lr-iv-ranking.json"


def _settings(ctx: TaskContext) -> tuple[str, TrainSettings]:
    job = StageParams.parse(ctx.params)
    return job.roster.active, job.require_train()


class _Rows:
    """This node's columns placed in the platform's train and holdout row order (NaN where it holds no row)."""

    def __init__(self, table: LoadedTable, ctx: TaskContext, alignment: alignment_pb2.SplitAlignment) -> None:
        own = feature_matrix(table, rows=read_intersection(ctx.work_dir))
        train = apply_alignment(alignment.train, own.values)
        holdout = apply_alignment(alignment.holdout, own.values)
        self.categories = dict(zip(own.names, own.categories, strict=True))
        self.x_train = {n: train[:, k] for k, n in enumerate(own.names)}
        self.x_holdout = {n: holdout[:, k] for k, n in enumerate(own.names)}
        self.n_holdout = alignment.holdout.n_rows


def _receive_alignment(ctx: TaskContext, channel, active: str, timeout: float) -> alignment_pb2.SplitAlignment:
    alignment = channel.recv(active, tag.ALIGN, alignment_pb2.SplitAlignment, timeout)
    (ctx.work_dir / ALIGNMENT_FILE).write_bytes(alignment.SerializeToString())
    return alignment


def _saved_alignment(ctx: TaskContext) -> alignment_pb2.SplitAlignment:
    path = ctx.work_dir / ALIGNMENT_FILE
    if not path.exists():
        raise TaskFailed("NO_ALIGNMENT", f"no row alignment in job {ctx.job_id}: run the binning stage first")
    return alignment_pb2.SplitAlignment.FromString(path.read_bytes())


def make_binning_handler(table: LoadedTable, policy: NodePolicy) -> Handler:
    """The `binning` stage: bin own variables, sum encrypted labels per bin, keep the merged bins and WOE."""

    def handle(ctx: TaskContext) -> dict[str, Any]:
        active, settings = _settings(ctx)
        timeout = settings.timeout_seconds
        channel = ctx.channel.scoped(tag.scope(Stage.BINNING))
        rows = _Rows(table, ctx, _receive_alignment(ctx, channel, active, timeout))
        owner_policy = OwnerPolicy(n_bins=settings.vertical_lr.binning.n_bins,
                                   allow_insecure_for_tests=policy.allow_insecure_keys_for_tests)
        ctx.progress(f"feature owner: {len(rows.x_train)} variables over {len(next(iter(rows.x_train.values())))}"
                     " aligned training rows", 0.0)
        result = run_feature_owner(channel.scoped(tag.WOE), active, features=rows.x_train,
                                   categories=rows.categories, policy=owner_policy, timeout=timeout)
        write_part(ctx.work_dir / BINNING_FILE, binning_part(ctx.channel.me, result.variables))
        ranking = [{"variable": e.variable if not e.own else _name(result.variables, e.variable), "own": e.own,
                    "iv": round(e.iv, 5), "rank": e.rank, "selected": e.selected} for e in result.ranking]
        (ctx.work_dir / RANKING_FILE).write_text(json.dumps(ranking, indent=1))
        return {"variables": len(result.variables), "selected": sum(v.selected for v in result.variables),
                "own_iv": [r for r in ranking if r["own"]]}

    return handle


def _name(variables, variable_id: str) -> str:
    return next((v.name for v in variables if v.variable_id == variable_id), variable_id)


def _own_features(ctx: TaskContext, rows: _Rows, settings: TrainSettings
                  ) -> tuple[list[str], np.ndarray, np.ndarray, list]:
    """This party's training and holdout matrices and how each column was made (WOE bins or scaling)."""
    binning = read_part(ctx.work_dir / BINNING_FILE, "binning") if settings.uses_woe else None
    return training_matrices(binning, rows.x_train, rows.x_holdout, rows.categories)


def make_train_handler(table: LoadedTable, policy: NodePolicy) -> Handler:
    """The `train` stage: vertical LR as a host, then its partial predictors of the train and holdout rows."""

    def handle(ctx: TaskContext) -> dict[str, Any]:
        active, settings = _settings(ctx)
        timeout = settings.timeout_seconds
        channel = ctx.channel.scoped(tag.scope(Stage.TRAIN))
        alignment = _saved_alignment(ctx) if settings.uses_woe else _receive_alignment(ctx, channel, active, timeout)
        rows = _Rows(table, ctx, alignment)
        names, x_train, x_holdout, transforms = _own_features(ctx, rows, settings)
        ctx.progress(f"vertical LR as host: {len(names)} variables", 0.0)
        try:
            model = run_host(channel, active, ARBITER, features=x_train, variables=names,
                             policy=HostPolicy(allow_plaintext=policy.allow_plaintext_training), timeout=timeout,
                             resume=ctx.checkpoints.load(ctx.resume_from) if ctx.resume_from else None,
                             on_checkpoint=ctx.checkpoints.save)
        except PLAN_ERRORS as exc:
            raise TaskFailed("TRAINING_REFUSED", str(exc)) from exc
        serve_predict(channel, active, model=model, features=x_train, batch="train", timeout=timeout)
        if rows.n_holdout:
            serve_predict(channel, active, model=model, features=x_holdout, batch="holdout", timeout=timeout)
        # The mean and spread of this node's part over the training rows go with it (aggregates only): the
        # platform scores with the mean when this node does not answer.
        write_part(ctx.work_dir / TRAINED_FILE, record_training_stats(
            lr_part(ctx.channel.me, model, transforms, guest=False, on_woe=settings.uses_woe), model, x_train))
        return {"variables": len(names), "rows_train": int(x_train.shape[0])}

    return handle


def make_evaluate_handler() -> Handler:
    """The `evaluate` stage: this node's own view of the IV ranking (its names, others' opaque)."""

    def handle(ctx: TaskContext) -> dict[str, Any]:
        path = ctx.work_dir / RANKING_FILE
        return {"iv_ranking": json.loads(path.read_text()) if path.exists() else []}

    return handle


def make_publish_handler() -> Handler:
    """The `publish` stage: this node's points table (scorecard) or weights under models/<model id>/."""

    def handle(ctx: TaskContext) -> dict[str, Any]:
        _, settings = _settings(ctx)
        algorithm = settings.algorithm
        trained = read_part(ctx.work_dir / TRAINED_FILE, "hetero_lr")
        if algorithm is Algorithm.SCORECARD:
            try:
                part = scorecard_part(ctx.channel.me, [owned_variable(v) for v in trained.variables],
                                      lr_model(trained), settings.vertical_lr.scale, guest=False,
                                      trained=trained)
            except ScorecardError as exc:
                raise TaskFailed("BAD_MODEL", str(exc)) from exc
        else:
            part = trained
        name = PART_FILE[algorithm]
        target = model_dir(ctx.work_dir, model_id(algorithm, ctx.job_id))
        return record_part(target, name, write_part(target / name, part))

    return handle
