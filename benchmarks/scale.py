"""Scale benchmark: `python -m benchmarks scale --rows 100000 300000 1000000 [--labelled 0.2] [--trees 10]
[--sources 3] [--features 30] [--key-bits B] [--scheme paillier|ou|plain] [--compute local]`.

For each size N: a wide synthetic city (`sandbox.synthdata.wide`: N enterprises, labels for a share of
them at the platform, `sources` source units with `features` columns each over all N), then
1. PSI N x N between the platform and one source (`benchmarks psi`: two OS processes over mutual TLS);
2. SecureBoost (`benchmarks secureboost`): the platform's labelled rows against every source table, one OS
   process per party, PSI of the labelled rows included, `trees` trees.
Per size it reports both times and each party's peak RSS (the larger of its two runs), then the growth
exponent b of time ~ rows^b fitted over the sizes (1 = linear). Only `--compute local` exists so far.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import psi as psi_benchmark
from benchmarks import secureboost as secureboost_benchmark
from models.he import PaillierParams
from sandbox.synthdata.wide import generate_wide


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def growth_exponent(rows: list[int], seconds: list[float]) -> float | None:
    """Slope of log(seconds) against log(rows), least squares; None with fewer than two sizes."""
    if len(rows) < 2:
        return None
    slope, _ = np.polyfit(np.log(rows), np.log(seconds), 1)
    return round(float(slope), 3)


def run_size(rows: int, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """One size: generate, PSI N x N, SecureBoost on the labelled rows."""
    labelled = max(2, round(rows * args.labelled))
    started = time.perf_counter()
    city = generate_wide(rows, labelled, args.seed, work, sources=args.sources, features=args.features)
    _log(f"scale: {rows} enterprises, {labelled} labelled, {args.sources} x {args.features} features generated "
         f"in {time.perf_counter() - started:.0f}s")
    psi = psi_benchmark.main(["--rows", str(rows), "--overlap", "0.5", "--timeout", str(args.timeout)])
    sb_args = ["--guest", str(city.platform), "--id-col", "id", "--label-col", "y", "--trees", str(args.trees),
               "--depth", str(args.depth), "--bins", str(args.bins), "--scheme", args.scheme,
               "--key-bits", str(args.key_bits), "--timeout", str(args.timeout)]
    for source in city.sources:
        sb_args += ["--host", str(source)]
    train = secureboost_benchmark.main(sb_args)
    psi_rss = {"platform/main": psi["parties"]["leader"]["peak_rss_mb"],
               "source/host0": psi["parties"]["follower"]["peak_rss_mb"]}
    rss = {party: max(mb, psi_rss.get(party, 0.0)) for party, mb in train["peak_rss_mb_by_party"].items()}
    _log(f"scale: {rows} rows: PSI {psi['seconds']:.1f}s, SecureBoost {train['train_seconds']:.1f}s, "
         f"peak RSS {max(rss.values()):.0f} MB")
    return {"rows": rows, "labelled_rows": labelled, "psi_seconds": psi["seconds"], "psi_correct": psi["correct"],
            "train_seconds": train["train_seconds"], "train_trees": train["trees"],
            "metric_federated": train["metric_federated"], "metric_xgboost": train["metric_xgboost"],
            "peak_rss_mb_by_party": rss, "cpu_seconds_by_party": train["cpu_seconds_by_party"],
            "bytes_sent_by_party": train["bytes_sent_by_party"],
            "load_average_start_end": train["load_average_start_end"]}


def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks scale")
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--labelled", type=float, default=0.2, help="share of enterprises with a platform label")
    parser.add_argument("--sources", type=int, default=3)
    parser.add_argument("--features", type=int, default=30, help="columns per source unit")
    parser.add_argument("--trees", type=int, default=10)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--bins", type=int, default=32)
    parser.add_argument("--scheme", choices=["paillier", "ou", "plain"], default="paillier")
    parser.add_argument("--key-bits", type=int, default=PaillierParams().key_bits)
    parser.add_argument("--compute", choices=["local"], default="local",
                        help="where each party's heavy kernels run (only local processes so far)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=7200.0)
    args = parser.parse_args(argv)
    if not 0.0 < args.labelled <= 1.0 or min(args.rows) < 100:
        parser.error("need 0 < labelled <= 1 and at least 100 rows")
    sizes = []
    for rows in sorted(args.rows):
        with tempfile.TemporaryDirectory(prefix="xyd-bench-scale-") as work:
            sizes.append(run_size(rows, args, Path(work)))
    rows = [s["rows"] for s in sizes]
    total = [s["psi_seconds"] + s["train_seconds"] for s in sizes]
    peak = max(mb for s in sizes for mb in s["peak_rss_mb_by_party"].values())
    return {"benchmark": "scale", "compute": args.compute, "scheme": args.scheme, "key_bits": args.key_bits,
            "trees": args.trees, "sources": args.sources, "features_per_source": args.features,
            "labelled_share": args.labelled, "sizes": sizes,
            "time_growth_exponent": growth_exponent(rows, total),
            "psi_growth_exponent": growth_exponent(rows, [s["psi_seconds"] for s in sizes]),
            "train_growth_exponent": growth_exponent(rows, [s["train_seconds"] for s in sizes]),
            "max_peak_rss_mb": round(peak, 1),
            "psi_seconds_1m": next((s["psi_seconds"] for s in sizes if s["rows"] == 1_000_000), None),
            "load_average_end": round(os.getloadavg()[0], 2), "cores": os.cpu_count()}
