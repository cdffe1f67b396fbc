"""The accuracy cost of scoring degraded: holdout AUC of a SecureBoost model on default_credit with each source
missing in turn (its splits sent down their learned default direction, as the platform scores when that source
does not answer), beside the full model's.

default_credit is FATE's copy of the UCI "default of credit card clients" table (30,000 card holders; NOTES.md,
`/work/shared/data/fate/UCI_Credit_Card.csv`), split by column into the platform (the label, the credit line and
demographics) and three sources: repayment status (PAY_0..PAY_6), bills (BILL_AMT1-6) and payments
(PAY_AMT1-6). Trained in one process without encryption: the trees are the same as under Paillier (the
lossless tests), and the degraded margins are the serving code's (`MaskCombiner` with default masks).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models.metrics import auc
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
