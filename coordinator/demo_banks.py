"""The horizontal part of the demo: three banks' loan books, one common model trained with Flower.

The launcher cuts the synthetic platform customers into three disjoint loan books by district (different
enterprises, the same standardised variables), as pilot banks would hold them, then runs
`xyd federate-banks` (SuperLink + one SuperNode per bank, TLS, node authentication) as a separate process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from coordinator.processes import ProcessFailed
from tables import load_table
from tables.features import feature_matrix


def write_loan_books(data_dir: Path, manifest, out_dir: Path, banks: int = 3) -> list[tuple[str, Path]]:
    """CSV loan books (id, y, standardised variables) for `banks` banks, split by registration district."""
    platform = load_table(data_dir / manifest.platform.schema, data_dir / manifest.platform.table)
    ids = sorted(str(i) for i in platform.ids)
    blocks = [feature_matrix(platform, exclude=["default"], rows=ids)]
    for unit in manifest.units:
        if unit.name in ("tax", "social_insurance"):
            blocks.append(feature_matrix(load_table(data_dir / unit.schema, data_dir / unit.table), rows=ids))
    values = np.column_stack([b.values for b in blocks])
    names = [n for b in blocks for n in b.names]
    mean, std = np.nanmean(values, axis=0), np.nanstd(values, axis=0)
    z = np.nan_to_num((values - mean) / np.where(std > 0, std, 1.0))
    y = platform.frame.loc[ids, "default"].astype(int).to_numpy()
    district = platform.frame.loc[ids, "district"].astype(str).to_numpy()
    out_dir.mkdir(parents=True, exist_ok=True)
    books = []
    order = sorted(set(district))
    for b in range(banks):
        rows = np.isin(district, order[b::banks])
        path = out_dir / f"bank{b + 1}.csv"
        with path.open("w") as f:
            f.write(",".join(["id", "y", *names]) + "\n")
            for i in np.flatnonzero(rows):
                f.write(",".join([str(i), str(y[i]), *(f"{v:.6g}" for v in z[i])]) + "\n")
        books.append((f"bank{b + 1}", path))
    return books


def run_banks_demo(data_dir: Path, manifest, work_dir: Path, say: Callable[[str], None], rounds: int = 2) -> dict:
    """Train across the banks on loopback; returns the run's summary."""
    books = write_loan_books(data_dir, manifest, work_dir / "loan-books")
    for name, path in books:
        say(f"      {name}: {sum(1 for _ in path.open()) - 1} loans")
    command = [sys.executable, "-m", "coordinator.cli", "federate-banks", "--rounds", str(rounds),
               "--workdir", str(work_dir / "flower"), "--timeout", "400", "--out", str(work_dir / "model"),
               *[a for name, path in books for a in ("--bank", f"{name}={path}")]]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=480)
    if proc.returncode != 0:
        raise ProcessFailed(f"xyd federate-banks failed ({proc.returncode}): {proc.stderr.strip()[-1500:]}")
    text = proc.stdout
    return json.loads(text[text.index("{"):])


def register_banks_model(work_dir: Path, operator_config: Path) -> str:
    """`xyd model register` as an operator runs it: the banks' model enters the coordinator's registry."""
    proc = subprocess.run([sys.executable, "-m", "coordinator.cli", "model", "register", "--file",
                           str(work_dir / "model" / "model.json"), "--report", str(work_dir / "model" / "report.json"),
                           "--name", "banks-common-risk", "--operator", str(operator_config)],
                          capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise ProcessFailed(f"xyd model register failed: {proc.stderr.strip()[-500:]}")
    return proc.stdout.strip()
