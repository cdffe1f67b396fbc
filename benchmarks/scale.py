"""Scale benchmark: `python -m benchmarks scale --rows 100000 300000 1000000 [--labelled 0.2] [--trees 10]
[--sources 3] [--features 30] [--key-bits B] [--scheme paillier|ou|plain] [--compute local]`.

For each size N: a wide synthetic city (`sandbox.synthdata.wide`: N enterprises, labels for a share of
them at the platform, `sources` source units with `features` columns each over all N), then
1. PSI N x N between the platform and one source (`benchmarks psi`: two OS processes over mutual TLS);
2. SecureBoost (`benchmarks secureboost`): the platform's labelled rows against every source table, one OS
   process per party, PSI of the labelled rows included, `trees` trees.
Per size it reports both times and each party's peak RSS (the larger of its two runs), then the growth
exponent b of time ~ rows^b fitted over the sizes (1 = linear).

`--compute ray --workers N` measures the column-split histograms instead (models/secureboost/column_workers.py)
on a Ray cluster started on this machine: whether a short training run gives the identical model, and for
1..N workers the time of one root histogram of a source's `features` columns over the labelled rows against
the local computation (`speedup_by_workers`), with the work and the bytes shipped per worker per tree.
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


def ray_columns(rows: int, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Identical model and speed-up per worker of the column-split histograms on a local Ray cluster."""
    import pandas as pd
    import ray

    from models.he import InlineObfuscators, PaillierKeypair
    from models.secureboost import FeatureTable, SecureBoostParams
    from models.secureboost import histogram as hist
    from models.secureboost.binning import FeatureBins
    from models.secureboost.column_workers import RayColumnHistograms
    from models.secureboost.he_cipher import HeEncryptor, HeEvaluator
    from models.secureboost.local import train_in_process

    labelled = max(2, round(rows * args.labelled))
    city = generate_wide(rows, labelled, args.seed, work, sources=1, features=args.features)
    platform = pd.read_csv(city.platform).set_index("id")
    source = pd.read_csv(city.sources[0]).set_index("id").loc[platform.index]
    y = platform.pop("y").to_numpy(float)
    own = FeatureTable(tuple(platform.columns), platform.to_numpy(float))
    theirs = FeatureTable(tuple(source.columns), source.to_numpy(float))
    small = args.key_bits < 2048
    keys = PaillierKeypair.generate(PaillierParams(key_bits=args.key_bits, allow_insecure_for_tests=small))
    ray.init(num_cpus=args.workers, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    try:
        # 1. The model: a short run, local against column workers, must be identical.
        check = min(labelled, 2000)
        params = SecureBoostParams(n_trees=2, max_depth=args.depth, bins=args.bins, seed=args.seed)
        cut = FeatureTable(own.names, own.values[:check]), FeatureTable(theirs.names, theirs.values[:check])
        runs = []
        for columns in (None, RayColumnHistograms(args.workers)):
            result = train_in_process(params, y[:check], cut[0], {"source/s0": cut[1]}, secret=keys.secret,
                                      split_keys={"platform/main": b"k" * 32, "source/s0": b"s" * 32},
                                      allow_insecure_for_tests=small, timeout=args.timeout,
                                      passive_columns=None if columns is None else {"source/s0": columns})
            runs.append([(dict(t.splits), dict(t.leaves)) for t in result.active.trees])
            if columns is not None:
                columns.close()
        # 2. The kernel: one root histogram of every column over the labelled rows.
        encryptor = HeEncryptor(keys.secret, InlineObfuscators(keys.secret.obfuscator_source()))
        evaluator = HeEvaluator(keys.public)
        pairs = [(i % 97) << 40 | (i % 89) for i in range(labelled)]
        vector = evaluator.load(encryptor.encrypt(pairs), labelled, None)
        bins = FeatureBins.fit(theirs, args.bins)
        binned = bins.transform(theirs)
        layout = hist.BinLayout.select(bins, np.arange(theirs.n_features))
        positions, every = np.arange(labelled), np.arange(labelled)
        started = time.perf_counter()
        local = hist.build(evaluator, vector, positions, binned, layout)
        local_seconds = time.perf_counter() - started
        speedup, seconds = {}, {}
        for workers in range(1, args.workers + 1):
            with RayColumnHistograms(workers) as columns:
                columns.setup(encryptor.public_bytes(), binned, allow_insecure_for_tests=small)
                columns.start_tree(vector, evaluator.value_bytes)
                started = time.perf_counter()
                spread = columns.build(evaluator, positions, every, binned, layout)
                seconds[workers] = round(time.perf_counter() - started, 3)
                if spread.sums != local.sums:
                    raise AssertionError("column workers returned other sums than the local computation")
            speedup[workers] = round(local_seconds / seconds[workers], 3)
    finally:
        ray.shutdown()
    return {"benchmark": "scale", "compute": "ray", "workers": args.workers, "rows": rows,
            "labelled_rows": labelled, "features": args.features, "key_bits": args.key_bits,
            "identical_model": runs[0] == runs[1], "root_histogram_seconds_local": round(local_seconds, 3),
            "root_histogram_seconds_by_workers": seconds, "speedup_by_workers": speedup,
            "vector_bytes_per_worker_per_tree": labelled * evaluator.value_bytes,
            "histogram_bytes_per_node": layout.total * evaluator.value_bytes,
            "cores": os.cpu_count(), "load_average_end": round(os.getloadavg()[0], 2)}


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
    parser.add_argument("--compute", choices=["local", "ray"], default="local",
                        help="local: every party as processes on this machine; ray: column-split histograms")
    parser.add_argument("--workers", type=int, default=2, help="column workers (--compute ray)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=7200.0)
    args = parser.parse_args(argv)
    if not 0.0 < args.labelled <= 1.0 or min(args.rows) < 100:
        parser.error("need 0 < labelled <= 1 and at least 100 rows")
    if args.compute == "ray":
        with tempfile.TemporaryDirectory(prefix="xyd-bench-scale-") as work:
            return ray_columns(min(args.rows), args, Path(work))
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
