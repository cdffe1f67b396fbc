"""The platform's side of a SecureBoost job: align rows, train as the active party, evaluate, publish.

The platform holds the labels and the HE secret key; source nodes only ever see ciphertexts of the
gradients and answer with encrypted histograms (docs/protocols/secureboost.md).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from federation.alignment import row_alignment
from federation.job_files import read_intersection, store_part
from federation.proto import alignment_pb2
from federation.proto import secureboost_pb2 as pb
from federation.tasks import TaskContext, TaskFailed
from models.he import (
    InsecureParametersError,
    ObfuscatorPool,
    OUKeypair,
    OUParams,
    PaillierKeypair,
    PaillierParams,
)
from models.metrics import auc, ks
from models.secureboost import (
    ActiveModel,
    FeatureTable,
    Metric,
    Objective,
    SecureBoostParams,
    Validation,
    run_active,
)
from models.splits import holdout_split
from tables import LoadedTable
from tables.features import feature_matrix

log = logging.getLogger("xyd.platform.secureboost")

# Obfuscator workers yield to this node's own protocol steps and API (docs/protocols/secureboost.md 8).
_POOL_NICENESS = 10

# [train] keys that configure the job around the algorithm rather than SecureBoostParams itself.
JOB_KEYS = {"algorithm", "key_bits", "scheme", "holdout", "timeout_seconds", "allow_insecure_for_tests",
            "active", "passive", "job_name", "model_name", "contributions", "contribution_trees",
            "he_workers", "short_exponent_bits", "project", "items"}


def secureboost_params(raw: Mapping[str, Any]) -> SecureBoostParams:
    """SecureBoostParams from a job's [train] table; unknown keys are refused by name."""
    fields = {f.name for f in dataclasses.fields(SecureBoostParams)}
    unknown = sorted(set(raw) - fields - JOB_KEYS)
    if unknown:
        raise TaskFailed("BAD_PARAMS", f"unknown [train] settings {unknown}; known: {sorted(fields | JOB_KEYS)}")
    values = {k: v for k, v in raw.items() if k in fields}
    if "eval_metric" in values and values["eval_metric"] is not None:
        values["eval_metric"] = Metric(values["eval_metric"])
    if "objective" in values:
        values["objective"] = Objective(values["objective"])
    try:
        return SecureBoostParams(**values)
    except (TypeError, ValueError) as exc:
        raise TaskFailed("BAD_PARAMS", f"[train]: {exc}") from exc


def _secret_key(params: Mapping[str, Any]):
    """The job's fresh key. `short_exponent_bits` (absent by default) is the job owner's explicit opt-in to
    short obfuscator exponents: about 5x cheaper encryption, resting on a short-exponent assumption beyond
    the scheme's own (docs/protocols/he.md); the [train] table, and so the model's lineage, records it."""
    scheme = params.get("scheme", "paillier")
    bits = int(params.get("key_bits", 2048))
    insecure = bool(params.get("allow_insecure_for_tests", False))
    choice: dict[str, Any] = {"key_bits": bits, "allow_insecure_for_tests": insecure}
    if params.get("short_exponent_bits") is not None:
        choice |= {"exponent_bits": int(params["short_exponent_bits"]), "allow_short_exponents": True}
        log.warning("short obfuscator exponents opted in", extra={"bits": choice["exponent_bits"]})
    try:
        if scheme == "paillier":
            return PaillierKeypair.generate(PaillierParams(**choice)).secret
        if scheme == "ou":
            return OUKeypair.generate(OUParams(**choice)).secret
    except InsecureParametersError as exc:
        raise TaskFailed("BAD_PARAMS", f"[train]: {exc}") from exc
    raise TaskFailed("BAD_PARAMS", f"[train] scheme must be paillier or ou, got {scheme!r}")


def _table(matrix) -> FeatureTable:
    return FeatureTable(matrix.names, matrix.values)


def make_train_handler(table: LoadedTable, label_column: str):
    """The `train` stage: align, train with every passive party, score train and holdout rows."""

    def handle(ctx: TaskContext) -> dict[str, Any]:
        params = secureboost_params(ctx.params)
        passives = list(ctx.params["passive"])
        timeout = float(ctx.params.get("timeout_seconds", 600))
        channel = ctx.channel.scoped("train")
        ids = sorted(str(i) for i in table.ids)
        try:
            train_ids, holdout_ids = holdout_split(ids, float(ctx.params.get("holdout", 0.2)), params.seed)
        except ValueError as exc:
            raise TaskFailed("BAD_PARAMS", f"[train] holdout: {exc}") from exc
        labels = table.frame[label_column].astype("float64")
        y_train = labels.loc[train_ids].to_numpy()
        y_holdout = labels.loc[holdout_ids].to_numpy()
        if len(np.unique(y_train)) < 2:
            raise TaskFailed("BAD_DATA", "the training rows hold a single class: nothing to learn")
        for peer in passives:
            inter = read_intersection(ctx.work_dir, peer)
            channel.send(peer, "align", alignment_pb2.SplitAlignment(
                train=row_alignment(inter, train_ids), holdout=row_alignment(inter, holdout_ids)))
        own_train = _table(feature_matrix(table, exclude=[label_column], rows=train_ids))
        own_holdout = _table(feature_matrix(table, exclude=[label_column], rows=holdout_ids))
        validation = Validation(own_holdout, y_holdout) if params.early_stopping_rounds and holdout_ids else None
        started = time.monotonic()
        ctx.progress(f"training {params.n_trees} trees on {len(train_ids)} rows with {len(passives)} source nodes"
                     f" ({'encrypted: ' + ctx.params.get('scheme', 'paillier') if params.encryption else 'PLAIN'})", 0.0)

        def on_tree(record) -> None:
            owners = ", ".join(f"{p}:{n}" for p, n in sorted(record.splits.items()))
            ctx.progress(f"tree {record.tree + 1}/{params.n_trees} splits [{owners}]",
                         (record.tree + 1) / params.n_trees)

        if params.encryption:
            secret = _secret_key(ctx.params)
            with ObfuscatorPool(secret.obfuscator_source(), capacity=max(1024, 2 * len(train_ids)),
                                workers=int(ctx.params.get("he_workers", 2)), niceness=_POOL_NICENESS,
                                limit=params.encryptions_needed(len(train_ids))) as pool:
                model = run_active(channel, passives, params=params, labels=y_train, features=own_train,
                                   secret=secret, obfuscators=pool, validation=validation, on_tree=on_tree,
                                   timeout=timeout)
        else:
            model = run_active(channel, passives, params=params, labels=y_train, features=own_train,
                               validation=validation, on_tree=on_tree, timeout=timeout)
        seconds = time.monotonic() - started
        masks_train = {p: channel.recv(p, "masks/train", pb.LeafMasks, timeout) for p in passives}
        masks_holdout = {p: channel.recv(p, "masks/holdout", pb.LeafMasks, timeout) for p in passives}
        p_train = model.predict(own_train, masks_train)
        metrics: dict[str, Any] = {"auc_train": round(auc(y_train, p_train), 5)}
        if len(holdout_ids) and len(np.unique(y_holdout)) == 2:
            p_holdout = model.predict(own_holdout, masks_holdout)
            metrics.update(auc_holdout=round(auc(y_holdout, p_holdout), 5), ks_holdout=round(ks(y_holdout, p_holdout), 5))
        (ctx.work_dir / "secureboost-active.bin").write_bytes(model.to_bytes())
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


def make_evaluate_handler(table: LoadedTable, label_column: str):
    """The `evaluate` stage: each party's marginal contribution (holdout AUC lost without it).

    With `[evaluate] contributions = true` the model is retrained once per source node without that node
    (encrypted like the main model, `contribution_trees` trees each) and scored on the same holdout rows.
    """

    def handle(ctx: TaskContext) -> dict[str, Any]:
        metrics_file = ctx.work_dir / "secureboost-metrics.json"
        if not metrics_file.exists():
            raise TaskFailed("NO_MODEL", f"no trained model in job {ctx.job_id}: run the train stage first")
        metrics = json.loads(metrics_file.read_text())
        passives = list(ctx.params["passive"])
        channel = ctx.channel.scoped("evaluate")
        wanted = bool(ctx.params.get("contributions", False))
        rounds = passives if wanted else []
        for peer in passives:
            channel.send(peer, "plan", alignment_pb2.ContributionPlan(excluded=rounds))
        if not rounds:
            return {"metrics": metrics, "contributions": {}}
        base = secureboost_params(ctx.params)
        params = dataclasses.replace(base, n_trees=int(ctx.params.get("contribution_trees", base.n_trees)),
                                     early_stopping_rounds=0)
        timeout = float(ctx.params.get("timeout_seconds", 600))
        ids = sorted(str(i) for i in table.ids)
        train_ids, holdout_ids = holdout_split(ids, float(ctx.params.get("holdout", 0.2)), base.seed)
        labels = table.frame[label_column].astype("float64")
        y_train, y_holdout = labels.loc[train_ids].to_numpy(), labels.loc[holdout_ids].to_numpy()
        own_train = _table(feature_matrix(table, exclude=[label_column], rows=train_ids))
        own_holdout = _table(feature_matrix(table, exclude=[label_column], rows=holdout_ids))
        full = _round_auc(ctx, channel, "full", passives, params, y_train, y_holdout, own_train, own_holdout, timeout)
        contributions = {}
        for k, excluded in enumerate(rounds):
            others = [p for p in passives if p != excluded]
            without = _round_auc(ctx, channel, f"without-{k}", others, params, y_train, y_holdout, own_train,
                                 own_holdout, timeout)
            contributions[excluded] = {"auc_holdout_without": round(without, 5),
                                       "marginal_auc": round(full - without, 5)}
            ctx.progress(f"without {excluded}: holdout AUC {without:.4f} (contribution {full - without:+.4f})",
                         (k + 1) / len(rounds))
        return {"metrics": metrics, "contribution_trees": params.n_trees, "auc_holdout_all": round(full, 5),
                "contributions": contributions}

    return handle


def _round_auc(ctx: TaskContext, channel, name: str, passives: Sequence[str], params: SecureBoostParams,
               y_train, y_holdout, own_train: FeatureTable, own_holdout: FeatureTable, timeout: float) -> float:
    scoped = channel.scoped(name)
    if params.encryption:
        secret = _secret_key(ctx.params)
        with ObfuscatorPool(secret.obfuscator_source(), capacity=max(1024, 2 * own_train.n_rows),
                            workers=int(ctx.params.get("he_workers", 2)), niceness=_POOL_NICENESS,
                            limit=params.encryptions_needed(own_train.n_rows)) as pool:
            model = run_active(scoped, passives, params=params, labels=y_train, features=own_train, secret=secret,
                               obfuscators=pool, timeout=timeout)
    else:
        model = run_active(scoped, passives, params=params, labels=y_train, features=own_train, timeout=timeout)
    masks = {p: scoped.recv(p, "masks/holdout", pb.LeafMasks, timeout) for p in passives}
    return auc(y_holdout, model.predict(own_holdout, masks))


def make_publish_handler(part_file: str = "secureboost-active.bin"):
    """The `publish` stage: keep this party's model part under models/<model id>/ with its hash."""

    def handle(ctx: TaskContext) -> dict[str, Any]:
        return publish_part(ctx, part_file)

    return handle


def publish_part(ctx: TaskContext, part_file: str) -> dict[str, Any]:
    source = ctx.work_dir / part_file
    if not source.exists():
        raise TaskFailed("NO_MODEL", f"no trained model part in job {ctx.job_id}: run the train stage first")
    return store_part(ctx.work_dir, f"sb-{ctx.job_id}", part_file, source.read_bytes())


def load_published(state_dir: Path, model_id: str) -> ActiveModel:
    """The platform's part of a published model, integrity-checked."""
    return ActiveModel.from_bytes((state_dir / "models" / model_id / "secureboost-active.bin").read_bytes())
