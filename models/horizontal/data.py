"""A bank's loan book as a labelled table: the standardised variables every pilot bank shares, plus `y`."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.horizontal.errors import InvalidParameterError, InvalidTableError

LABEL = "y"
ID_COLUMNS = ("id",)


@dataclass(frozen=True)
class BankTable:
    """Features (rows x variables, float64), a 0/1 default label, and the variable names in order."""

    features: np.ndarray
    labels: np.ndarray
    feature_names: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.features.ndim != 2 or self.features.shape[1] != len(self.feature_names):
            raise InvalidTableError(f"features {self.features.shape} do not match {len(self.feature_names)} names")
        if len(self.labels) != len(self.features):
            raise InvalidTableError("labels and features differ in length")
        if not np.all(np.isfinite(self.features)):
            raise InvalidTableError("features contain missing or infinite values")
        if not np.isin(self.labels, (0, 1)).all():
            raise InvalidTableError("labels must be 0 or 1")

    def __len__(self) -> int:
        return len(self.labels)

    def rows(self, index: np.ndarray) -> BankTable:
        return BankTable(self.features[index], self.labels[index], self.feature_names)


def load_bank_table(path: Path) -> BankTable:
    """Read a numeric CSV with a header: an `id` column (dropped), the label `y`, and the variables.

    numpy rather than pandas: a ClientApp process loads the table for every message, and pandas'
    import alone costs about a second.
    """
    with open(path, newline="") as f:
        header = next(csv.reader(f), [])
        try:
            values = np.loadtxt(f, delimiter=",", dtype=np.float64, ndmin=2)
        except ValueError as exc:
            raise InvalidTableError(f"{path}: non-numeric or ragged values: {exc}") from exc
    if LABEL not in header:
        raise InvalidTableError(f"{path}: no label column {LABEL!r}")
    columns = [j for j, c in enumerate(header) if c != LABEL and c not in ID_COLUMNS]
    if not columns:
        raise InvalidTableError(f"{path}: no feature columns")
    if values.size == 0:
        values = np.zeros((0, len(header)))
    if values.shape[1] != len(header):
        raise InvalidTableError(f"{path}: {values.shape[1]} values per row, {len(header)} columns in the header")
    label = values[:, header.index(LABEL)]
    if not np.all(np.isin(label, (0.0, 1.0))):
        raise InvalidTableError(f"{path}: labels must be 0 or 1")
    return BankTable(values[:, columns], label.astype(np.int64), tuple(header[j] for j in columns))


def pool_tables(tables: list[BankTable]) -> BankTable:
    """The centralized baseline's table: all banks' rows together (only ever built in benchmarks)."""
    names = {t.feature_names for t in tables}
    if len(names) != 1:
        raise InvalidTableError("tables do not share one variable list")
    return BankTable(np.vstack([t.features for t in tables]), np.concatenate([t.labels for t in tables]),
                     tables[0].feature_names)


def split_holdout(table: BankTable, fraction: float, seed: int) -> tuple[BankTable, BankTable]:
    """Deterministic (train, held-out) split, so every message to the same bank sees the same split."""
    if not 0.0 <= fraction < 1.0:
        raise InvalidParameterError(f"holdout fraction {fraction} must be in [0, 1)")
    order = np.random.default_rng(seed).permutation(len(table))
    cut = int(round(len(table) * fraction))
    return table.rows(np.sort(order[cut:])), table.rows(np.sort(order[:cut]))
