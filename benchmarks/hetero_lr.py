"""Vertical LR benchmark: `python -m benchmarks hetero_lr --guest G.csv --host H.csv [--host ...] --id-col id
--label-col y --epochs 20 [--woe]`.

The guest (platform/main), every host (source/hostK) and the arbiter (coordinator/main) run as separate OS
processes with their own NodeServer, talking over mutual-TLS gRPC on loopback. Rows are aligned on the ids
all files share (as PSI would align them; PSI is benchmarked on its own). With --woe, federated WOE
binning (Paillier) runs first and LR trains on the selected WOE variables. `auc_sklearn_train` is
scikit-learn's LogisticRegression on the same joined training matrix with the same L2 penalty
(C = 1 / (l2 n)), fitted in this parent process from matrices the parties saved for that purpose only.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from benchmarks._hetero_lr_party import ARBITER, GUEST, host_party
from benchmarks._party_process import PartyProcess
from federation.pki import CertificateAuthority, Identity
from models.metrics import auc

MODULE = "benchmarks._hetero_lr_party"



def aligned_ids(paths: list[str], id_col: str) -> list[str]:
    """The ids every file holds, sorted: the row order all parties use."""
    common: set[str] | None = None
    for path in paths:
        ids = set(pd.read_csv(path, usecols=[id_col])[id_col].astype(str))
        common = ids if common is None else common & ids
    return sorted(common or set())


def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks hetero_lr")
    parser.add_argument("--guest", required=True, help="CSV with the id, the label and the guest's features")
    parser.add_argument("--host", action="append", required=True, help="CSV with the id and a host's features")
    parser.add_argument("--id-col", default="id")
    parser.add_argument("--label-col", default="y")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--learning-rate", type=float, default=0.3)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--l2", type=float, default=1e-3, help="penalty (l2/2)||w||^2 on the mean log loss")
    parser.add_argument("--woe", action="store_true", help="federated WOE binning first, LR on WOE variables")
    parser.add_argument("--bins", type=int, default=20, help="fine quantile bins before merging (--woe)")
    parser.add_argument("--paillier-bits", type=int, default=2048)
    parser.add_argument("--plain", action="store_true", help="plaintext mode (every party allows it)")
    parser.add_argument("--rows", type=int, default=0, help="use only the first N aligned rows (0: all)")
    parser.add_argument("--timeout", type=float, default=1800.0)
    args = parser.parse_args(argv)
    hosts = [host_party(k) for k in range(len(args.host))]
    ids = aligned_ids([args.guest, *args.host], args.id_col)
    if args.rows:
        ids = ids[: args.rows]
    if not ids:
        parser.error("the files share no id")
    common = ["--hosts", str(len(hosts)), "--id-col", args.id_col, "--label-col", args.label_col,
              "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
              "--learning-rate", str(args.learning_rate), "--momentum", str(args.momentum), "--l2", str(args.l2),
              "--bins", str(args.bins), "--paillier-bits", str(args.paillier_bits)]
    common += ["--woe"] * args.woe + ["--plain"] * args.plain
    parties: list[PartyProcess] = []
    with tempfile.TemporaryDirectory(prefix="xyd-bench-lr-") as work:
        pki = Path(work) / "pki"
        ca = CertificateAuthority.create(pki)
        for party in (GUEST, ARBITER, *hosts):
            ca.issue(Identity.parse(party))
        Path(work, "ids.txt").write_text("\n".join(ids))
        base = [*common, "--pki", str(pki), "--workdir", work]
        try:
            parties.append(PartyProcess("guest", MODULE, ["--role", "guest", "--data", args.guest, *base]))
            parties.append(PartyProcess("arbiter", MODULE, ["--role", "arbiter", *base]))
            for k, path in enumerate(args.host):
                parties.append(PartyProcess(hosts[k], MODULE, ["--role", "host", "--index", str(k), "--data", path, *base]))
            names = [GUEST, ARBITER, *hosts]
            addresses = {name: party.receive(timeout=120)["address"] for name, party in zip(names, parties, strict=True)}
            started = time.perf_counter()
            for party in parties:
                party.tell({"peers": addresses})
            reports = {name: party.receive(timeout=args.timeout) for name, party in zip(names, parties, strict=True)}
            seconds = time.perf_counter() - started
        finally:
            for party in parties:
                party.finish()
        labels = np.load(Path(work) / "labels.npy")
        joined = np.column_stack([np.load(Path(work) / "guest.npy"),
                                  *[np.load(Path(work) / f"{h.replace('/', '_')}.npy") for h in hosts]])
    baseline = LogisticRegression(C=1.0 / (args.l2 * labels.size), max_iter=5000).fit(joined, labels)
    auc_sklearn = auc(labels, baseline.decision_function(joined))
    guest = reports[GUEST]
    epochs = guest["epochs"]
    print(f"hetero_lr: {labels.size} rows x {joined.shape[1]} variables, {epochs} epochs in "
          f"{guest['train_seconds']:.1f}s, AUC {guest['auc_train']:.4f} (scikit-learn {auc_sklearn:.4f})",
          file=sys.stderr)
    return {
        "benchmark": "hetero_lr",
        "rows": int(labels.size),
        "variables": int(joined.shape[1]),
        "hosts": len(hosts),
        "encrypted": not args.plain,
        "woe": args.woe,
        "epochs": epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "l2": args.l2,
        "auc_train": round(guest["auc_train"], 5),
        "auc_sklearn_train": round(auc_sklearn, 5),
        "auc_gap": round(abs(guest["auc_train"] - auc_sklearn), 5),
        "train_seconds": round(guest["train_seconds"], 3),
        "seconds_per_epoch": round(guest["train_seconds"] / max(epochs, 1), 3),
        "woe_seconds": round(guest["woe_seconds"], 3),
        "wall_seconds": round(seconds, 3),
        "final_loss": round(guest["losses"][-1], 6),
        "peak_rss_mb": round(sum(r["peak_rss_mb"] for r in reports.values()), 1),
        "cpu_seconds": round(sum(r["cpu_seconds"] for r in reports.values()), 1),
        "bytes_on_wire": int(sum(r["bytes_sent"] for r in reports.values())),
        # What each party carries (issue 21 item 6): a source unit's cost is visible on its own.
        "cpu_seconds_by_party": {name: r["cpu_seconds"] for name, r in reports.items()},
        "peak_rss_mb_by_party": {name: r["peak_rss_mb"] for name, r in reports.items()},
        "bytes_sent_by_party": {name: int(r["bytes_sent"]) for name, r in reports.items()},
        "parties": {name: {k: v for k, v in r.items() if k != "losses"} for name, r in reports.items()},
    }
