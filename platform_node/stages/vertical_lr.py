"""The platform's side of a vertical LR or scorecard job: WOE binning as label holder, LR as guest, evaluation
and publication of its part (points table or weights). The coordinator is the LR arbiter.

Stages (docs/protocols/woe.md, hetero_lr.md): binning sends the row alignment and Paillier-encrypted labels
of the training rows; train runs the guest with the sources (hosts) and the coordinator (arbiter), then asks
the hosts for their partial predictors of the train and holdout rows (a documented leakage of scoring).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from federation.alignment import row_alignment
from federation.config import NodePolicy
from federation.job_files import model_dir, read_intersection, record_part
from federation.proto import alignment_pb2
from federation.tasks import Handler, TaskContext, TaskFailed
from jobspec import Algorithm, LrSettings, Stage, StageParams, TrainSettings
from jobspec import tags as tag
from jobspec.parts import ARBITER, PART_FILE, model_id
from models.he import ObfuscatorPool, PaillierKeypair, PaillierParams
from models.hetero_lr import PLAN_ERRORS, predict_guest, run_guest
from models.metrics import DiscriminationReport, MetricError, psi
from models.scorecard import ScorecardError, ScorecardParams, ScorecardReport
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
from models.splits import holdout_split
from models.woe import run_label_holder
from tables import LoadedTable
from tables.features import feature_matrix

BINNING_FILE = "lr-binning.bin"
TRAINED_FILE = "lr-trained.bin"
SCORES_FILE = "lr-scores.npz"
RANKING_FILE = "lr-iv-ranking.json"
METRICS_FILE = "lr-metrics.json"


def _settings(ctx: TaskContext) -> tuple[StageParams, TrainSettings, LrSettings]:
    job = StageParams.parse(ctx.params)
    settings = job.require_train()
    if settings.vertical_lr is None:
        raise TaskFailed("BAD_PARAMS", f"[train] algorithm is {settings.algorithm}, not hetero_lr or scorecard")
    return job, settings, settings.vertical_lr


class _Rows:
    """The job's train/holdout split of the platform's rows, labels and own raw features."""

    def __init__(self, table: LoadedTable, label: str, settings: TrainSettings) -> None:
        ids = sorted(str(i) for i in table.ids)
        try:
            self.train, self.holdout = holdout_split(ids, settings.holdout, settings.seed)
        except ValueError as exc:
            raise TaskFailed("BAD_PARAMS", f"[train] holdout: {exc}") from exc
        labels = table.frame[label].astype("float64")
        self.y_train = labels.loc[self.train].to_numpy()
        self.y_holdout = labels.loc[self.holdout].to_numpy()
        if len(np.unique(self.y_train)) < 2:
            raise TaskFailed("BAD_DATA", "the training rows hold a single class: nothing to learn")
        own_train = feature_matrix(table, exclude=[label], rows=self.train)
        own_holdout = feature_matrix(table, exclude=[label], rows=self.holdout)
        self.categories = dict(zip(own_train.names, own_train.categories, strict=True))
        self.x_train = {n: own_train.values[:, k] for k, n in enumerate(own_train.names)}
        self.x_holdout = {n: own_holdout.values[:, k] for k, n in enumerate(own_holdout.names)}

    def send_alignment(self, ctx: TaskContext, channel, passive: Sequence[str]) -> None:
        for peer in passive:
            inter = read_intersection(ctx.work_dir, peer)
            channel.send(peer, tag.ALIGN, alignment_pb2.SplitAlignment(
                train=row_alignment(inter, self.train), holdout=row_alignment(inter, self.holdout)))


def make_binning_handler(table: LoadedTable, label: str, policy: NodePolicy) -> Handler:
    """The `binning` stage: federated WOE/IV over the training rows, as the label holder."""

    def handle(ctx: TaskContext) -> dict[str, Any]:
        job, settings, lr = _settings(ctx)
        if not lr.woe:
            raise TaskFailed("BAD_PARAMS", "the binning stage needs algorithm = \"scorecard\" or woe = true")
        passive = list(job.roster.passive)
        rows = _Rows(table, label, settings)
        channel = ctx.channel.scoped(tag.scope(Stage.BINNING))
        rows.send_alignment(ctx, channel, passive)
        try:
            keys = PaillierKeypair.generate(PaillierParams(
                key_bits=settings.key.key_bits, allow_insecure_for_tests=policy.allow_insecure_keys_for_tests))
        except ValueError as exc:
            raise TaskFailed("BAD_PARAMS", f"[train] key_bits: {exc}") from exc
        timeout = settings.timeout_seconds
        started = time.monotonic()
        ctx.progress(f"WOE binning of {len(rows.train)} training rows with {len(passive)} sources "
                     f"(Paillier-{settings.key.key_bits} encrypted labels)", 0.0)
        with ObfuscatorPool(keys.secret.obfuscator_source(), capacity=max(256, len(rows.train)),
                            workers=settings.he_workers) as pool:
            result = run_label_holder(channel.scoped(tag.WOE), passive, labels=rows.y_train,
                                      secret=keys.secret, options=lr.binning,
                                      own_features=rows.x_train, own_category="platform", obfuscators=pool,
                                      timeout=timeout)
        write_part(ctx.work_dir / BINNING_FILE, binning_part(ctx.channel.me, result.own))
        me = ctx.channel.me
        ranking = [{"variable": r.name if r.owner == me else f"{r.owner}#{r.variable_id}", "owner": r.owner,
                    "own": r.owner == me, "iv": round(r.iv, 5), "rank": r.rank, "selected": r.selected}
                   for r in sorted(result.reports, key=lambda r: r.rank)]
        (ctx.work_dir / RANKING_FILE).write_text(json.dumps(ranking, indent=1))
        seconds = time.monotonic() - started
        ctx.progress(f"binned {len(ranking)} variables, {sum(r['selected'] for r in ranking)} selected, "
                     f"in {seconds:.1f}s", 1.0)
        return {"variables": len(ranking), "selected": sum(r["selected"] for r in ranking),
                "binning_seconds": round(seconds, 3), "iv_ranking": ranking[:10]}

    return handle


def _own_features(ctx: TaskContext, rows: _Rows, woe: bool) -> tuple[list[str], np.ndarray, np.ndarray, list]:
    """This party's training and holdout matrices and how each column was made (WOE bins or scaling)."""
    binning = read_part(ctx.work_dir / BINNING_FILE, "binning") if woe else None
    return training_matrices(binning, rows.x_train, rows.x_holdout, rows.categories)


def make_train_handler(table: LoadedTable, label: str) -> Handler:
    """The `train` stage: vertical LR as the guest, then scores of the train and holdout rows."""

    def handle(ctx: TaskContext) -> dict[str, Any]:
        job, settings, lr = _settings(ctx)
        rows = _Rows(table, label, settings)
        params = lr.lr
        passives = list(job.roster.passive)
        timeout = settings.timeout_seconds
        channel = ctx.channel.scoped(tag.scope(Stage.TRAIN))
        if not lr.woe:
            rows.send_alignment(ctx, channel, passives)  # no binning stage ran to tell the sources their rows
        names, x_train, x_holdout, transforms = _own_features(ctx, rows, lr.woe)
        ctx.progress(f"vertical LR as guest: {len(names)} own variables, {len(rows.train)} rows, "
                     f"{len(passives)} hosts, arbiter {ARBITER} "
                     f"({'CKKS' if params.encrypted else 'PLAIN'})", 0.0)
        started = time.monotonic()
        try:
            # The row order of every epoch comes from the job's seed (the hosts see it anyway), so a job and its
            # resumption, or two runs of one job file, shuffle alike; the generator's state is checkpointed.
            result = run_guest(channel, passives, ARBITER, labels=rows.y_train, features=x_train, variables=names,
                               params=params, timeout=timeout, rng=np.random.default_rng(settings.seed),
                               resume=ctx.checkpoints.load(ctx.resume_from) if ctx.resume_from else None,
                               on_checkpoint=ctx.checkpoints.save, progress=ctx.progress)
        except PLAN_ERRORS as exc:
            raise TaskFailed("TRAINING_REFUSED", str(exc)) from exc
        seconds = time.monotonic() - started
        model = result.model
        p_train = predict_guest(channel, passives, model=model, features=x_train, first_row=0, batch="train",
                                timeout=timeout)
        p_holdout = predict_guest(channel, passives, model=model, features=x_holdout, first_row=0,
                                  batch="holdout", timeout=timeout) if rows.holdout else np.zeros(0)
        write_part(ctx.work_dir / TRAINED_FILE, record_training_stats(
            lr_part(ctx.channel.me, model, transforms, guest=True, on_woe=lr.woe), model, x_train))
        np.savez(ctx.work_dir / SCORES_FILE, p_train=p_train, p_holdout=p_holdout, y_train=rows.y_train,
                 y_holdout=rows.y_holdout)
        metrics = evaluation_metrics(settings, rows.y_train, p_train, rows.y_holdout, p_holdout)
        (ctx.work_dir / METRICS_FILE).write_text(json.dumps(metrics))
        report = result.report
        return {"metrics": metrics, "rows_train": len(rows.train), "rows_holdout": len(rows.holdout),
                "epochs": report.epochs, "converged": report.converged, "stop_reason": report.stop_reason,
                "losses": [round(v, 6) for v in report.losses], "train_seconds": round(seconds, 3),
                "own_variables": len(names),
                "params": {"algorithm": settings.algorithm.value, "woe": lr.woe,
                           "encrypted": params.encrypted, "batch_size": params.batch_size,
                           "max_epochs": params.max_epochs, "learning_rate": params.learning_rate,
                           "momentum": params.momentum, "l1": params.l1, "l2": params.l2,
                           "holdout": settings.holdout}}

    return handle


def _scores(card: ScorecardParams, probability: np.ndarray) -> np.ndarray:
    """Scorecard points of default probabilities: offset + factor * ln(good:bad)."""
    p = np.clip(probability, 1e-12, 1 - 1e-12)
    return card.offset + card.factor * np.log((1 - p) / p)


def evaluation_metrics(settings: TrainSettings, y_train: np.ndarray, p_train: np.ndarray,
                       y_holdout: np.ndarray, p_holdout: np.ndarray) -> dict[str, Any]:
    """AUC, KS, Gini on train and holdout rows and the PSI of the holdout score distribution against train."""
    scorecard = settings.algorithm is Algorithm.SCORECARD
    card = settings.vertical_lr.scale if settings.vertical_lr else ScorecardParams()
    out: dict[str, Any] = {}
    for split, y, p in (("train", y_train, p_train), ("holdout", y_holdout, p_holdout)):
        try:
            if scorecard:
                report = ScorecardReport.of(y, _scores(card, p)).discrimination
                out[f"mean_score_{split}"] = round(float(_scores(card, p).mean()), 3)
            else:
                report = DiscriminationReport.of(y, p)
        except MetricError:
            continue
        out.update({f"auc_{split}": round(report.auc, 5), f"ks_{split}": round(report.ks, 5),
                    f"gini_{split}": round(report.gini, 5)})
    if len(p_holdout) and len(p_train):
        reference, actual = (_scores(card, p_train), _scores(card, p_holdout)) if scorecard \
            else (p_train, p_holdout)
        out["psi_holdout"] = round(float(psi(reference, actual)), 5)
    return out


def make_evaluate_handler(table: LoadedTable, label: str) -> Handler:
    """The `evaluate` stage: the evaluation report from the trained model's scores (no network)."""

    def handle(ctx: TaskContext) -> dict[str, Any]:
        path = ctx.work_dir / METRICS_FILE
        if not path.exists():
            raise TaskFailed("NO_MODEL", f"no trained model in job {ctx.job_id}: run the train stage first")
        metrics = json.loads(path.read_text())
        ranking_file = ctx.work_dir / RANKING_FILE
        ranking = json.loads(ranking_file.read_text()) if ranking_file.exists() else []
        trained = read_part(ctx.work_dir / TRAINED_FILE, "hetero_lr")
        model = lr_model(trained)
        weights = {name: round(float(w), 6) for name, w in zip(model.variables, model.weights, strict=True)}
        return {"metrics": metrics, "iv_ranking": ranking, "own_weights": weights,
                "intercept": round(model.intercept, 6)}

    return handle


def make_publish_handler() -> Handler:
    """The `publish` stage: this party's points table (scorecard) or weights under models/<model id>/."""

    def handle(ctx: TaskContext) -> dict[str, Any]:
        return publish(ctx)

    return handle


def publish(ctx: TaskContext) -> dict[str, Any]:
    """Write this party's published part and its sha256 next to it; returns the registry's figures."""
    job, settings, lr = _settings(ctx)
    algorithm = settings.algorithm
    trained = read_part(ctx.work_dir / TRAINED_FILE, "hetero_lr")
    if algorithm is Algorithm.SCORECARD:
        variables = [owned_variable(v) for v in trained.variables]
        try:
            part = scorecard_part(ctx.channel.me, variables, lr_model(trained), lr.scale,
                                  guest=trained.lr.has_intercept, trained=trained)
        except ScorecardError as exc:
            raise TaskFailed("BAD_MODEL", str(exc)) from exc
    else:
        part = trained
    part.hosts.extend(job.roster.passive)
    name = PART_FILE[algorithm]
    target = model_dir(ctx.work_dir, model_id(algorithm, ctx.job_id))
    return {**record_part(target, name, write_part(target / name, part)), "variables": len(part.variables)}
