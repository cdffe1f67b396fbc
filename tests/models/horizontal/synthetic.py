"""Synthetic loan books for tests: standardised variables and a default label with non-linear risk."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.horizontal import BankTable

VARIABLES = 5


def make_table(rows: int, seed: int, *, shift: float = 0.0) -> BankTable:
    """Rows of one bank; `shift` moves its variables' distribution (banks serve different clienteles)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, size=(rows, VARIABLES))
    # A U-shaped effect in x1 and a threshold in x2: what bins let a linear model capture.
    z = -1.2 + 0.8 * x[:, 0] + 0.9 * (x[:, 1] ** 2 - 1) - 1.0 * (x[:, 2] > 0.5) + 0.3 * x[:, 3]
    y = (rng.random(rows) < 1 / (1 + np.exp(-z))).astype(np.int64)
    return BankTable(x, y, tuple(f"x{j}" for j in range(VARIABLES)))


def write_csv(table: BankTable, path: Path) -> Path:
    """The layout of the FATE homo files: id, y, then the variables."""
    header = "id,y," + ",".join(table.feature_names)
    ids = np.arange(len(table))
    body = np.column_stack([ids, table.labels, table.features])
    np.savetxt(path, body, delimiter=",", header=header, comments="", fmt=["%d", "%d"] + ["%.6f"] * VARIABLES)
    return path
