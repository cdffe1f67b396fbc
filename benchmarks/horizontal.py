"""Horizontal learning among banks: federated vs centralized vs best single bank, on a shared test file.

python -m benchmarks horizontal --clients A.csv B.csv C.csv --test T.csv --rounds 10 [--model logistic|xgboost|both]

By default the federated runs use the real deployment (flower-superlink + one flower-supernode per bank
on loopback, TLS, node authentication); `--in-process` runs the same ServerApp/ClientApp code through an
in-process grid instead. Baselines train the same model, same schedule, on the very training rows the
banks used (each bank's held-out share is excluded everywhere). The headline keys describe the first
model named; `models` holds every model's figures.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bank_federation.cli import run_in_process, run_on_loopback
from bank_federation.settings import RunSettings
from models.horizontal import load_bank_table, pool_tables, read_model_file, split_holdout
from models.horizontal import logistic as logistic_model
from models.horizontal.baselines import fit_boosting, fit_logistic
from models.horizontal.boosting import predict_proba as boosting_proba
from models.metrics import auc


def _progress(text: str) -> None:
    print(f"[horizontal] {text}", file=sys.stderr, flush=True)


def _baselines(model: str, tables: dict[str, Any], test: Any, settings: RunSettings) -> dict[str, Any]:
    rng = np.random.default_rng(settings.seed)

    def score(table: Any) -> float:
        if model == "logistic":
            w, edges = fit_logistic(table, settings.logistic, settings.rounds, settings.bins, rng)
            return auc(test.labels, logistic_model.predict_proba(w, edges.expand(test.features)))
        return auc(test.labels, boosting_proba(fit_boosting(table, settings.boosting, settings.rounds), test.features))

    singles = {name: score(t) for name, t in tables.items()}
    return {"auc_centralized": score(pool_tables(list(tables.values()))), "auc_single_banks": singles,
            "auc_best_single_bank": max(singles.values())}


def _one_model(model: str, args: argparse.Namespace, banks: list[tuple[str, Path]], test: Any,
               workdir: Path) -> dict[str, Any]:
    config: dict[str, Any] = {"model": model, "num-rounds": args.rounds, "num-banks": len(banks),
                              "min-banks": len(banks), "holdout-fraction": args.holdout_fraction}
    if args.dp_noise:
        config["dp-noise-multiplier"] = args.dp_noise
    settings = RunSettings.from_run_config(config)
    _progress(f"{model}: federated run over {len(banks)} banks, {args.rounds} rounds"
              f" ({'in-process' if args.in_process else 'SuperLink deployment'})")
    started = time.monotonic()
    if args.in_process:
        report = run_in_process(banks, config, workdir / model)
    else:
        report = run_on_loopback(banks, config, workdir / model, args.timeout)
    seconds = time.monotonic() - started
    global_model = read_model_file(Path(report["output_dir"]) / report["model_file"])
    fed_auc = auc(test.labels, global_model.predict_proba(test.features))
    _progress(f"{model}: federated test AUC {fed_auc:.4f}; training baselines")
    tables = {name: split_holdout(load_bank_table(path), settings.holdout_fraction, settings.seed)[0]
              for name, path in banks}
    base = _baselines(model, tables, test, settings)
    return {
        "auc_federated": fed_auc, **base,
        "within_0.01_of_centralized": abs(fed_auc - base["auc_centralized"]) <= 0.01,
        "above_best_single_bank": fed_auc > base["auc_best_single_bank"],
        "seconds": seconds, "seconds_in_serverapp": report["seconds"],
        "seconds_per_round": report["seconds_per_round"], "bytes_on_wire": report["bytes_on_wire"],
        "messages": report["messages"], "holdout_auc_federated": report["final"]["holdout_auc"],
        "strategy": report["strategy"], "aggregation": report["aggregation"], "privacy": report["privacy"],
        "deployment": report["deployment"], "model_sha256": report["model_sha256"],
    }


def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks horizontal")
    parser.add_argument("--clients", nargs="+", required=True, type=Path, help="one CSV per bank")
    parser.add_argument("--test", required=True, type=Path)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--model", choices=("logistic", "xgboost", "both"), default="both")
    parser.add_argument("--holdout-fraction", type=float, default=0.2)
    parser.add_argument("--dp-noise", type=float, default=0.0, help="DP-SGD noise multiplier for logistic")
    parser.add_argument("--in-process", action="store_true")
    parser.add_argument("--timeout", type=float, default=1200.0)
    parser.add_argument("--workdir", type=Path, help="keep the runs' files here (default: a temporary folder, "
                        "removed at the end)")
    args = parser.parse_args(argv)
    for path in [*args.clients, args.test]:
        if not path.exists():
            raise SystemExit(f"no such file: {path}")
    banks = [(path.stem.replace("_", "-"), path) for path in args.clients]
    test = load_bank_table(args.test)
    names = ["logistic", "xgboost"] if args.model == "both" else [args.model]
    if args.workdir is not None:  # kept: the operator asked for it
        models = {m: _one_model(m, args, banks, test, args.workdir) for m in names}
    else:
        with tempfile.TemporaryDirectory(prefix="xyd-bench-horizontal-") as tmp:
            models = {m: _one_model(m, args, banks, test, Path(tmp)) for m in names}
    headline = models[names[0]]
    return {
        "benchmark": "horizontal", "model": names[0], "banks": [b for b, _ in banks], "rounds": args.rounds,
        "test_rows": len(test), **{k: headline[k] for k in (
            "auc_federated", "auc_centralized", "auc_best_single_bank", "seconds", "seconds_per_round",
            "bytes_on_wire", "deployment", "within_0.01_of_centralized", "above_best_single_bank")},
        "models": models,
    }
