"""Data loaders and reference checks shared by the SecureBoost tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.secureboost import FeatureTable
from models.secureboost.model import ActiveModel, PassiveModel
from models.secureboost.tree import left, right

FATE = Path("/work/shared/data/fate")
ACTIVE_NAMES = ("loan_age", "capital", "staff")
TAX_NAMES = ("tax_turnover", "tax_paid", "tax_arrears")
POWER_NAMES = ("power_kwh", "power_late_days")


def synthetic(n: int, seed: int, missing_rate: float = 0.0) -> tuple[np.ndarray, FeatureTable, dict[str, FeatureTable]]:
    """Labels, an active table (3 features) and two passive tables (3 and 2 features), some of it missing."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8))
    x[:, 3] = np.round(x[:, 3] * 2)          # few distinct values
    x[:, 6] = rng.integers(0, 4, size=n)     # categorical-like
    logit = 1.2 * x[:, 0] - 0.8 * x[:, 3] + 0.9 * x[:, 4] * (x[:, 5] > 0) + 0.5 * x[:, 6] - 0.7
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(float)
    if missing_rate:
        holes = rng.random(x.shape) < missing_rate
        holes[:, 0] = False
        x[holes] = np.nan
    active = FeatureTable(ACTIVE_NAMES, x[:, 0:3])
    passives = {"source/tax": FeatureTable(TAX_NAMES, x[:, 3:6]),
                "source/power": FeatureTable(POWER_NAMES, x[:, 6:8])}
    return y, active, passives


def fate_pair(name: str, rows: int | None = None) -> tuple[np.ndarray, FeatureTable, FeatureTable]:
    """A FATE vertical split (guest with labels, host), joined on id; skipped when the data is absent."""
    pd = pytest.importorskip("pandas")
    guest, host = FATE / f"{name}_hetero_guest.csv", FATE / f"{name}_hetero_host.csv"
    if not guest.exists() or not host.exists():
        pytest.skip(f"FATE data {name} not found under {FATE}")
    g, h = pd.read_csv(guest), pd.read_csv(host)
    h = h.rename(columns={c: f"h_{c}" for c in h.columns if c != "id"})
    joined = g.merge(h, on="id")
    if rows is not None:
        joined = joined.iloc[:rows]
    gcols = [c for c in g.columns if c not in ("id", "y")]
    hcols = [c for c in h.columns if c != "id"]
    return (joined["y"].to_numpy(float), FeatureTable(tuple(gcols), joined[gcols].to_numpy()),
            FeatureTable(tuple(hcols), joined[hcols].to_numpy()))


def predict_by_traversal(active: ActiveModel, passives: dict[str, PassiveModel],
                         tables: dict[str, FeatureTable]) -> np.ndarray:
    """Reference prediction with every part in one place: walk each tree row by row (tests only)."""
    rules = {active.party: active.own.rules, **{p: m.rules for p, m in passives.items()}}
    n = next(iter(tables.values())).n_rows
    outputs = active.params.outputs
    margin = np.full(n if outputs == 1 else (n, outputs), active.base_margin)
    for tree in active.trees:
        for i in range(n):
            node = 0
            while node in tree.splits:
                owner, sid, _ = tree.splits[node]
                rule = rules[owner][sid]
                x = tables[owner].column(rule.feature)[i]
                go_left = rule.missing_left if np.isnan(x) else x < rule.threshold
                node = left(node) if go_left else right(node)
            margin[i] += np.asarray(tree.leaves[node])
    return margin


def same_trees(a: ActiveModel, b: ActiveModel) -> None:
    """Assert two active parts are identical: shapes, owners, split ids, gains and leaf weights, bit for bit."""
    assert len(a.trees) == len(b.trees)
    assert a.base_margin == b.base_margin
    for ta, tb in zip(a.trees, b.trees, strict=True):
        assert dict(ta.splits) == dict(tb.splits)
        assert dict(ta.leaves) == dict(tb.leaves)
