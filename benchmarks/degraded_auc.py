"""The accuracy cost of scoring degraded: holdout AUC of a SecureBoost model on default_credit with each source
missing in turn (its splits sent down their learned default direction, as the platform scores when that source
does not answer), beside the full model's.

default_credit is FATE's copy of the UCI "default of credit card clients" table (30,000 card holders; NOTES.md,
`/work/shared/data/fate/UCI_Credit_Card.csv`), split by column into the platform (the label, the credit line and
demographics) and three sources: repayment status (PAY_0..PAY_6), bills (BILL_AMT1-6) and payments
(PAY_AMT1-6). Trained in one process without encryption: the trees are the same as under Paillier (the
lossless tests), and the degraded margins are the serving code's (`MaskCombiner` with default masks).

`measure_lr` does the same for a vertical LR on standardised raw features: trained by the protocol's own roles
(guest, hosts, arbiter) in threads over an in-memory hub, in plain mode (the encrypted weights agree within
1e-3, docs/protocols/hetero_lr.md), and degraded as the platform serves it: the missing source's contribution
at its training mean (`record_training_stats`), its importance its share of the parties' training spreads.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from federation.channel import InMemoryHub
from models.hetero_lr import ArbiterPolicy, HeteroLrParams, HostPolicy, run_arbiter, run_guest, run_host
from models.metrics import auc
from models.scorecard.stored import lr_part, record_training_stats, scaling_of, standardised
from models.secureboost import FeatureTable, SecureBoostParams
from models.secureboost.local import train_in_process
from models.secureboost.mask_plan import LeafMaskPlan, MaskCombiner

DATA = Path(os.environ.get("XYD_SHARED_DATA", "/work/shared/data")) / "fate" / "UCI_Credit_Card.csv"
LABEL = "default.payment.next.month"
PLATFORM = ("LIMIT_BAL", "SEX", "EDUCATION", "MARRIAGE", "AGE")
SOURCES = {
    "source/repayment": ("PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6"),
    "source/bills": tuple(f"BILL_AMT{k}" for k in range(1, 7)),
    "source/payments": tuple(f"PAY_AMT{k}" for k in range(1, 7)),
}


def _table(frame: pd.DataFrame, columns: tuple[str, ...]) -> FeatureTable:
    return FeatureTable(columns, frame[list(columns)].to_numpy(dtype=np.float64))


def measure(*, trees: int = 10, holdout: float = 0.3, seed: int = 7) -> dict[str, Any]:
    """Holdout AUC of the full model and with each source missing, and each source's share of the gain."""
    frame = pd.read_csv(DATA)
    test = np.random.default_rng(seed).random(len(frame)) < holdout
    train, hold = frame[~test], frame[test]
    params = SecureBoostParams(n_trees=trees, max_depth=3, bins=32, learning_rate=0.3, encryption=False, seed=seed)
    result = train_in_process(params, train[LABEL].to_numpy(dtype=np.float64), _table(train, PLATFORM),
                              {p: _table(train, c) for p, c in SOURCES.items()}, timeout=600)
    y = hold[LABEL].to_numpy(dtype=np.float64)
    own = _table(hold, PLATFORM)
    masks = {p: LeafMaskPlan(m).leaf_masks(_table(hold, SOURCES[p])) for p, m in result.passives.items()}
    combiner = MaskCombiner(result.active)
    gain = {p: i.gain for p, i in result.active.importance_by_party().items()}
    total = sum(gain.values())

    def holdout_auc(missing: str | None) -> float:
        present = {p: m for p, m in masks.items() if p != missing}
        defaults = {} if missing is None else {missing: LeafMaskPlan(result.passives[missing]).default_masks()}
        return round(auc(y, combiner.combine(own, present, defaults).margin), 4)

    full = holdout_auc(None)
    missing = {p: {"auc": holdout_auc(p), "importance": round(gain.get(p, 0.0) / total, 4)} for p in SOURCES}
    for entry in missing.values():
        entry["auc_cost"] = round(full - entry["auc"], 4)
    return {"data": "default_credit (UCI_Credit_Card.csv)", "rows": len(frame), "holdout_rows": int(test.sum()),
            "trees": trees, "full": full, "missing": missing}


def _in_threads(jobs: dict[str, Callable[[], Any]], timeout: float) -> dict[str, Any]:
    results: dict[str, Any] = {}
    errors: list[BaseException] = []

    def run(name: str, job: Callable[[], Any]) -> None:
        try:
            results[name] = job()
        except BaseException as error:  # re-raised below
            errors.append(error)

    threads = [threading.Thread(target=run, args=item, daemon=True) for item in jobs.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    if errors:
        raise errors[0]
    return results


def measure_lr(*, epochs: int = 20, holdout: float = 0.3, seed: int = 7) -> dict[str, Any]:
    """Holdout AUC of a vertical LR, full and with each source at its training mean, and each source's share of
    the parties' training spreads (its `missing_importance`)."""
    frame = pd.read_csv(DATA)
    test = np.random.default_rng(seed).random(len(frame)) < holdout
    train, hold = frame[~test], frame[test]
    groups = {"platform/main": PLATFORM, **SOURCES}
    scalers = {p: scaling_of({c: train[c].to_numpy(dtype=np.float64) for c in cols}) for p, cols in groups.items()}

    def matrix(rows: pd.DataFrame, party: str) -> np.ndarray:
        return standardised({c: rows[c].to_numpy(dtype=np.float64) for c in groups[party]}, scalers[party])

    hub = InMemoryHub(("platform/main", "coordinator/main", *SOURCES))
    params = HeteroLrParams(encrypted=False, batch_size=4096, max_epochs=epochs, learning_rate=0.3, l2=1e-3)
    jobs: dict[str, Callable[[], Any]] = {
        "guest": lambda: run_guest(hub.channel("platform/main"), list(SOURCES), "coordinator/main",
                                   labels=train[LABEL].to_numpy(dtype=np.float64),
                                   features=matrix(train, "platform/main"), variables=list(PLATFORM),
                                   params=params, rng=np.random.default_rng(seed), timeout=600),
        "arbiter": lambda: run_arbiter(hub.channel("coordinator/main"), "platform/main", list(SOURCES),
                                       policy=ArbiterPolicy(allow_plaintext=True), timeout=600)}
    for party, cols in SOURCES.items():
        jobs[party] = (lambda party=party, cols=cols: run_host(
            hub.channel(party), "platform/main", "coordinator/main", features=matrix(train, party),
            variables=list(cols), policy=HostPolicy(allow_plaintext=True), timeout=600))
    out = _in_threads(jobs, timeout=1200)
    models = {"platform/main": out["guest"].model, **{p: out[p] for p in SOURCES}}
    stats = {p: record_training_stats(lr_part(p, m, scalers[p], guest=p == "platform/main", on_woe=False), m,
                                      matrix(train, p)) for p, m in models.items()}
    parts = {p: matrix(hold, p) @ m.weights for p, m in models.items()}
    intercept = models["platform/main"].intercept
    y = hold[LABEL].to_numpy(dtype=np.float64)
    spread = {p: s.training_spread for p, s in stats.items()}

    def holdout_auc(missing: str | None) -> float:
        margin = intercept + sum(np.full(len(y), sum(stats[p].training_means)) if p == missing else v
                                 for p, v in parts.items())
        return round(auc(y, margin), 4)

    full = holdout_auc(None)
    missing = {p: {"auc": holdout_auc(p), "importance": round(spread[p] / sum(spread.values()), 4)}
               for p in SOURCES}
    for entry in missing.values():
        entry["auc_cost"] = round(full - entry["auc"], 4)
    return {"data": "default_credit (UCI_Credit_Card.csv)", "rows": len(frame), "holdout_rows": int(test.sum()),
            "model": "vertical LR, raw standardised features, plain mode", "epochs": out["guest"].report.epochs,
            "full": full, "missing": missing}
