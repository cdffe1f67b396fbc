"""The platform's side of a SecureBoost job: align rows, train as the active party, evaluate, publish.

The platform holds the labels and the HE secret key; source nodes only ever see ciphertexts of the
gradients and answer with encrypted histograms (docs/protocols/secureboost.md).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from federation.alignment import row_alignment
from federation.compute import ComputeSettings
from federation.config import NodePolicy
from federation.job_files import model_dir, read_intersection, store_part
from federation.proto import alignment_pb2
from federation.proto import secureboost_pb2 as pb
from federation.tasks import TaskContext, TaskFailed
from jobspec import Algorithm, KeyChoice, Stage, StageParams, TrainSettings
from jobspec import tags as tag
from jobspec.parts import SECUREBOOST_ACTIVE_PART, model_id
from models.he import (
    InsecureParametersError,
    ObfuscatorPool,
    OUKeypair,
    OUParams,
    PaillierKeypair,
    PaillierParams,
)
from models.metrics import auc, ks, rank_curves
from models.secureboost import (
    ActiveModel,
    FeatureTable,
    SecureBoostParams,
    Validation,
    run_active,
)
from models.secureboost.metrics import mlogloss, rmse
from models.secureboost.objective import adverse_probability
from models.secureboost.params import Objective
from models.splits import holdout_split
from platform_node.federation_view import EVALUATION_FILE
from tables import LoadedTable
from tables.features import feature_matrix

log = logging.getLogger("xyd.platform.secureboost")

# Obfuscator workers yield to this node's own protocol steps and API (docs/protocols/secureboost.md 8).
_POOL_NICENESS = 10

def _secret_key(key: KeyChoice, policy: NodePolicy):
    """The job's fresh key: the scheme's secure defaults (docs/protocols/he.md 0) unless [train] asks for a
    larger key or longer obfuscator exponents; the [train] table, and so the model's lineage, records it.
    Keys below production sizes are admitted only when this node's own config allows them."""
    choice: dict[str, Any] = {"key_bits": key.key_bits,
                              "allow_insecure_for_tests": policy.allow_insecure_keys_for_tests}
    if key.exponent_bits is not None:
        choice["exponent_bits"] = key.exponent_bits
    try:
        if key.scheme == "paillier":
            return PaillierKeypair.generate(PaillierParams(**choice)).secret
        return OUKeypair.generate(OUParams(**choice)).secret
    except InsecureParametersError as exc:
        raise TaskFailed("BAD_PARAMS", f"[train]: {exc}") from exc


def _settings(ctx: TaskContext) -> tuple[list[str], TrainSettings, SecureBoostParams]:
    job = StageParams.parse(ctx.params)
    settings = job.require_train()
    if settings.secureboost is None:
        raise TaskFailed("BAD_PARAMS", f"[train] algorithm is {settings.algorithm}, not secureboost")
    return list(job.roster.passive), settings, settings.secureboost


def _table(matrix) -> FeatureTable:
    return FeatureTable(matrix.names, matrix.values)


def make_train_handler(table: LoadedTable, label_column: str, policy: NodePolicy,
                       compute: ComputeSettings | None = None):
    """The `train` stage: align, train with every passive party, score train and holdout rows; with
    `[compute] backend = "ray"` the gradients are encrypted and the histograms decrypted on the platform's
    own Ray cluster."""
    compute = compute or ComputeSettings()

    def handle(ctx: TaskContext) -> dict[str, Any]:
        passives, settings, params = _settings(ctx)
        timeout = settings.timeout_seconds
        channel = ctx.channel.scoped(tag.scope(Stage.TRAIN))
        ids = sorted(str(i) for i in table.ids)
        try:
            train_ids, holdout_ids = holdout_split(ids, settings.holdout, params.seed)
        except ValueError as exc:
            raise TaskFailed("BAD_PARAMS", f"[train] holdout: {exc}") from exc
        labels = table.frame[label_column].astype("float64")
        y_train = labels.loc[train_ids].to_numpy()
        y_holdout = labels.loc[holdout_ids].to_numpy()
        if len(np.unique(y_train)) < 2:
            raise TaskFailed("BAD_DATA", "the training rows hold a single class: nothing to learn")
        for peer in passives:
            inter = read_intersection(ctx.work_dir, peer)
            channel.send(peer, tag.ALIGN, alignment_pb2.SplitAlignment(
                train=row_alignment(inter, train_ids), holdout=row_alignment(inter, holdout_ids)))
        own_train = _table(feature_matrix(table, exclude=[label_column], rows=train_ids))
        own_holdout = _table(feature_matrix(table, exclude=[label_column], rows=holdout_ids))
        validation = Validation(own_holdout, y_holdout) if params.early_stopping_rounds and holdout_ids else None
        started = time.monotonic()
        ctx.progress(f"training {params.n_trees} trees on {len(train_ids)} rows with {len(passives)} source nodes"
                     f" ({'encrypted: ' + settings.key.scheme if params.encryption else 'PLAIN'})", 0.0)

        def on_tree(record) -> None:
            owners = ", ".join(f"{p}:{n}" for p, n in sorted(record.splits.items()))
            ctx.progress(f"tree {record.tree + 1}/{params.n_trees} splits [{owners}]",
                         (record.tree + 1) / params.n_trees)

        # A checkpoint after every tree; a resumed run continues from the one the coordinator chose (a fresh
        # key is fine: encryption randomness changes no decrypted sum, docs/protocols/secureboost.md 9).
        resume = ctx.checkpoints.load(ctx.resume_from) if ctx.resume_from else None
        if resume is not None:
            ctx.progress(f"resuming after tree {ctx.resume_from}", ctx.resume_from / params.n_trees)
        if params.encryption and compute.on_ray:
            # Encryption and decryption on the platform's own Ray cluster (models/secureboost/row_workers.py).
            from models.secureboost.row_workers import RayGradientEncryptor

            with RayGradientEncryptor(_secret_key(settings.key, policy), compute.workers, compute.address) as cipher:
                model = run_active(channel, passives, params=params, labels=y_train, features=own_train,
                                   encryptor=cipher, validation=validation, on_tree=on_tree, timeout=timeout,
                                   resume=resume, on_checkpoint=ctx.checkpoints.save)
        elif params.encryption:
            secret = _secret_key(settings.key, policy)
            with ObfuscatorPool(secret.obfuscator_source(), capacity=max(1024, 2 * len(train_ids)),
                                workers=settings.he_workers, niceness=_POOL_NICENESS,
                                limit=params.encryptions_needed(len(train_ids))) as pool:
                model = run_active(channel, passives, params=params, labels=y_train, features=own_train,
                                   secret=secret, obfuscators=pool, validation=validation, on_tree=on_tree,
                                   timeout=timeout, resume=resume, on_checkpoint=ctx.checkpoints.save)
        else:
            model = run_active(channel, passives, params=params, labels=y_train, features=own_train,
                               validation=validation, on_tree=on_tree, timeout=timeout, resume=resume,
                               on_checkpoint=ctx.checkpoints.save)
        seconds = time.monotonic() - started
        masks_train = {p: channel.recv(p, tag.MASKS_TRAIN, pb.LeafMasks, timeout) for p in passives}
        masks_holdout = {p: channel.recv(p, tag.MASKS_HOLDOUT, pb.LeafMasks, timeout) for p in passives}
        metrics: dict[str, Any] = _scores(params, y_train, model.predict(own_train, masks_train), "train")
        if len(holdout_ids) and len(np.unique(y_holdout)) >= 2:
            p_holdout = model.predict(own_holdout, masks_holdout)
            metrics.update(_scores(params, y_holdout, p_holdout, "holdout"))
            adverse = (y_holdout > 0).astype(np.float64)
            if params.objective is not Objective.SQUARED_ERROR and len(np.unique(adverse)) == 2:
                # the console's curves rank the adverse outcome's probability, what online scoring reports
                write_evaluation(ctx.work_dir, adverse, adverse_probability(params.objective, p_holdout), metrics)
        (ctx.work_dir / SECUREBOOST_ACTIVE_PART).write_bytes(model.to_bytes())
        (ctx.work_dir / "secureboost-metrics.json").write_text(json.dumps(metrics))
        importance = {p: {"splits": imp.splits, "gain": round(imp.gain, 4)}
                      for p, imp in model.importance_by_party().items()}
        own_features = {name: {"splits": imp.splits, "gain": round(imp.gain, 4)}
                        for name, imp in model.own_feature_importance().items()}
        (ctx.work_dir / "secureboost-active-importance.json").write_text(json.dumps(own_features, indent=1))
        return {"metrics": metrics, "rows_train": len(train_ids), "rows_holdout": len(holdout_ids),
                "trees": len(model.trees), "train_seconds": round(seconds, 3), "importance_by_party": importance,
                "params": dataclasses.asdict(params) | {"objective": params.objective.value,
                                                       "eval_metric": params.eval_metric.value
                                                       if params.eval_metric else None}}

    return handle


def make_evaluate_handler(table: LoadedTable, label_column: str, policy: NodePolicy):
    """The `evaluate` stage: each party's marginal contribution (holdout AUC lost without it).

    With `[evaluate] contributions = true` the model is retrained once per source node without that node
    (encrypted like the main model, `contribution_trees` trees each) and scored on the same holdout rows.
    """

    def handle(ctx: TaskContext) -> dict[str, Any]:
        metrics_file = ctx.work_dir / "secureboost-metrics.json"
        if not metrics_file.exists():
            raise TaskFailed("NO_MODEL", f"no trained model in job {ctx.job_id}: run the train stage first")
        metrics = json.loads(metrics_file.read_text())
        job = StageParams.parse(ctx.params)
        passives, settings, base = _settings(ctx)
        channel = ctx.channel.scoped(tag.scope(Stage.EVALUATE))
        rounds = passives if job.evaluate.contributions else []
        if rounds and base.objective is Objective.SQUARED_ERROR:
            rounds = []  # contributions compare holdout AUC: a regression model reports none
        for peer in passives:
            channel.send(peer, tag.CONTRIBUTION_PLAN, alignment_pb2.ContributionPlan(excluded=rounds))
        if not rounds:
            return {"metrics": metrics, "contributions": {}}
        params = dataclasses.replace(base, n_trees=job.evaluate.contribution_trees or base.n_trees,
                                     early_stopping_rounds=0)
        timeout = settings.timeout_seconds
        ids = sorted(str(i) for i in table.ids)
        train_ids, holdout_ids = holdout_split(ids, settings.holdout, base.seed)
        pool_of = _pool_factory(settings, policy)
        labels = table.frame[label_column].astype("float64")
        y_train, y_holdout = labels.loc[train_ids].to_numpy(), labels.loc[holdout_ids].to_numpy()
        own_train = _table(feature_matrix(table, exclude=[label_column], rows=train_ids))
        own_holdout = _table(feature_matrix(table, exclude=[label_column], rows=holdout_ids))
        full = _round_auc(pool_of, channel, tag.FULL_ROUND, passives, params, y_train, y_holdout, own_train,
                          own_holdout, timeout)
        contributions = {}
        for k, excluded in enumerate(rounds):
            others = [p for p in passives if p != excluded]
            without = _round_auc(pool_of, channel, tag.without_round(k), others, params, y_train, y_holdout,
                                 own_train, own_holdout, timeout)
            contributions[excluded] = {"auc_holdout_without": round(without, 5),
                                       "marginal_auc": round(full - without, 5)}
            ctx.progress(f"without {excluded}: holdout AUC {without:.4f} (contribution {full - without:+.4f})",
                         (k + 1) / len(rounds))
        add_to_evaluation(ctx.work_dir, contributions=contributions)
        return {"metrics": metrics, "contribution_trees": params.n_trees, "auc_holdout_all": round(full, 5),
                "contributions": contributions}

    return handle


def _pool_factory(settings: TrainSettings, policy: NodePolicy):
    """A fresh key and its obfuscator pool for one contribution round."""

    def open_pool(params: SecureBoostParams, rows: int):
        secret = _secret_key(settings.key, policy)
        return secret, ObfuscatorPool(secret.obfuscator_source(), capacity=max(1024, 2 * rows),
                                      workers=settings.he_workers, niceness=_POOL_NICENESS,
                                      limit=params.encryptions_needed(rows))

    return open_pool


def _scores(params: SecureBoostParams, labels: np.ndarray, outputs: np.ndarray, rows: str) -> dict[str, float]:
    """Training-report figures: RMSE for regression; AUC (and KS on holdout rows) of the adverse outcome's
    probability, what online scoring reports, plus the multiclass log loss for softmax."""
    if params.objective is Objective.SQUARED_ERROR:
        return {f"rmse_{rows}": round(rmse(labels, outputs), 5)}
    adverse, pd = labels > 0, adverse_probability(params.objective, outputs)
    if len(np.unique(adverse)) < 2:
        return {}
    out = {f"auc_{rows}": round(auc(adverse, pd), 5)}
    if rows == "holdout":
        out["ks_holdout"] = round(ks(adverse, pd), 5)
    if params.objective is Objective.MULTI_SOFTPROB:
        out[f"mlogloss_{rows}"] = round(mlogloss(labels, outputs), 5)
    return out


def _round_auc(pool_of, channel, name: str, passives: Sequence[str], params: SecureBoostParams,
               y_train, y_holdout, own_train: FeatureTable, own_holdout: FeatureTable, timeout: float) -> float:
    scoped = channel.scoped(name)
    if params.encryption:
        secret, opened = pool_of(params, own_train.n_rows)
        with opened as pool:
            model = run_active(scoped, passives, params=params, labels=y_train, features=own_train, secret=secret,
                               obfuscators=pool, timeout=timeout)
    else:
        model = run_active(scoped, passives, params=params, labels=y_train, features=own_train, timeout=timeout)
    masks = {p: scoped.recv(p, tag.MASKS_HOLDOUT, pb.LeafMasks, timeout) for p in passives}
    return auc(y_holdout > 0, adverse_probability(params.objective, model.predict(own_holdout, masks)))


def make_publish_handler(part_file: str = SECUREBOOST_ACTIVE_PART):
    """The `publish` stage: keep this party's model part under models/<model id>/ with its hash."""

    def handle(ctx: TaskContext) -> dict[str, Any]:
        return publish_part(ctx, part_file)

    return handle


def publish_part(ctx: TaskContext, part_file: str) -> dict[str, Any]:
    source = ctx.work_dir / part_file
    if not source.exists():
        raise TaskFailed("NO_MODEL", f"no trained model part in job {ctx.job_id}: run the train stage first")
    the_model = model_id(Algorithm.SECUREBOOST, ctx.job_id)
    stored = store_part(ctx.work_dir, the_model, part_file, source.read_bytes())
    evaluation = ctx.work_dir / EVALUATION_WORK_FILE
    if evaluation.exists():  # beside the part, for the operator's console (not a part: no hash recorded)
        (model_dir(ctx.work_dir, the_model) / EVALUATION_FILE).write_bytes(evaluation.read_bytes())
    return stored


EVALUATION_WORK_FILE = "secureboost-evaluation.json"


def write_evaluation(work_dir: Path, labels: np.ndarray, pd: np.ndarray, metrics: dict[str, Any]) -> None:
    """Keep the holdout's ROC and KS curves and PD quantiles (aggregates of the platform's own labels and
    predictions; no row) for the operator's console and the population-stability reference."""
    curves = rank_curves(labels, pd)
    document = {
        "roc": [[round(f, 5), round(t, 5)] for f, t in zip(curves.fpr, curves.tpr, strict=True)],
        "ks": {"share": [round(v, 5) for v in curves.share], "fpr": [round(v, 5) for v in curves.fpr],
               "tpr": [round(v, 5) for v in curves.tpr]},
        "pd_quantiles": [round(float(q), 6) for q in np.quantile(pd, np.linspace(0.0, 1.0, 101))],
        "auc": metrics.get("auc_holdout"), "ks_value": metrics.get("ks_holdout"),
    }
    (work_dir / EVALUATION_WORK_FILE).write_text(json.dumps(document))


def add_to_evaluation(work_dir: Path, **fields: Any) -> None:
    path = work_dir / EVALUATION_WORK_FILE
    if path.exists():
        document = json.loads(path.read_text())
        document.update(fields)
        path.write_text(json.dumps(document))


def load_published(state_dir: Path, model_id: str) -> ActiveModel:
    """The platform's part of a published model, integrity-checked."""
    return ActiveModel.from_bytes((state_dir / "models" / model_id / SECUREBOOST_ACTIVE_PART).read_bytes())
