"""SecureBoost training and bank scoring over a slow network, against loopback in the same invocation.

`python -m benchmarks wan [--rtt-ms 0,20,50] [--rate-mbit 100] [--enterprises 5000] [--trees 10]
[--requests 300] [--concurrency 8]`: synthetic data; then, for loopback and for each round trip, a fresh
federation (the coordinator, the platform and three source nodes as separate processes), a job of PSI,
SecureBoost training (Paillier-2048) and publishing, and single scores from a bank over HTTP.

Off loopback every party runs in its own network namespace behind a link capped at `--rate-mbit` in each
direction (`tc tbf`), and reaches every other party, and is reached by the operator and the bank, through
the delaying relay (`sandbox.network`, `sandbox.relay`): one round trip of `--rtt-ms` between any two. The
relay delays each chunk it reads, not each packet, so TCP's slow start and window limits on a long link are
not modelled, only its latency and bandwidth. A bank's single score crosses two round trips: the bank to the
platform, and the platform's fan-out to the source nodes. Needs root for the namespaces; without it only
the loopback run is reported, with the reason.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from sandbox.demo.bank import onboard
from sandbox.http_load import run_closed_loop
from sandbox.launcher import LocalFederation, NodeData, NodePlacement
from sandbox.network import API_PORT, SlowNetwork, unavailable_reason
from sandbox.synthdata import generate

SOURCES = ("tax", "social_insurance", "utilities")
PARTIES = ["coordinator/main", "platform/main", *(f"source/{s}" for s in SOURCES)]


def _log(message: str) -> None:
    print(f"[wan] {message}", file=sys.stderr, flush=True)


def _job(trees: int, key_bits: int) -> str:
    passive = ", ".join(f'"source/{s}"' for s in SOURCES)
    return (f'[job]\nname = "bench-wan"\nstages = ["psi", "train", "publish"]\n[parties]\n'
            f'active = "platform/main"\npassive = [{passive}]\n[psi]\nreveal = "both"\n[train]\n'
            f'algorithm = "secureboost"\nn_trees = {trees}\nmax_depth = 3\nbins = 32\nkey_bits = {key_bits}\n')


def _train(federation: LocalFederation, trees: int, key_bits: int) -> dict:
    """Submit the job and follow it: seconds from submission to the end, and per stage (from the first progress
    event of a stage to the first of the next; `train_seconds` is the SecureBoost training stage)."""
    with federation.client() as client:
        started = time.monotonic()
        job = client.submit(_job(trees, key_bits))
        first_seen: dict[str, float] = {}
        for event in client.watch(job, timeout=3600):
            if event.stage and event.stage not in first_seen:
                first_seen[event.stage] = time.monotonic()
        total = time.monotonic() - started
        status = client.status(job)
    if status.state != "SUCCEEDED":
        raise SystemExit(f"training failed: {status.error}")
    marks = sorted(first_seen.items(), key=lambda kv: kv[1]) + [("end", started + total)]
    stages = {stage: round(marks[i + 1][1] - at, 2) for i, (stage, at) in enumerate(marks[:-1])}
    return {"job_seconds": round(total, 2), **{f"{stage}_seconds": s for stage, s in stages.items()}}


def _score(federation: LocalFederation, codes: list[str], requests: int, concurrency: int, warmup: int) -> dict:
    key = onboard(federation.platform_config, "wan-bank", "WAN Bank", limits=(1e6, 100_000, 10_000_000))
    headers = {"Authorization": f"Bearer {key}"}

    def body(prefix: str):
        return lambda i: {"credit_code": codes[i % len(codes)], "purpose": "PRE_LOAN_REVIEW",
                          "loan_application_ref": f"{prefix}-{i}"}

    # Not measured: the first requests load the published model and open the channels.
    warm = run_closed_loop(federation.api_url, "/v1/scores", headers, body("WARM"), requests=warmup,
                           concurrency=concurrency)
    load = run_closed_loop(federation.api_url, "/v1/scores", headers, body("WAN"), requests=requests,
                           concurrency=concurrency)
    summary = load.summary()
    errors = len(load.errors) + len(warm.errors)
    return {"score_p50_ms": summary["p50_ms"], "score_p99_ms": summary["p99_ms"],
            "score_requests_per_s": summary["requests_per_s"], "score_errors": errors,
            "score_error_samples": sorted(set(load.errors) | set(warm.errors))[:3]}


def _condition(name: str, work: Path, platform: NodeData, sources: dict[str, NodeData], codes: list[str],
               args: argparse.Namespace, placement: NodePlacement | None) -> dict:
    extra = {} if placement is None else {"placement": placement}
    federation = LocalFederation(work / name, platform, sources, ready_timeout=180.0, **extra)
    started = time.monotonic()
    with federation:
        ready = time.monotonic() - started
        _log(f"{name}: federation ready in {ready:.1f}s; training")
        trained = _train(federation, args.trees, args.key_bits)
        _log(f"{name}: job (PSI, training, publishing) in {trained['job_seconds']:.1f}s, training "
             f"{trained.get('train_seconds', float('nan')):.1f}s; scoring")
        scored = _score(federation, codes, args.requests, args.concurrency, args.warmup)
        _log(f"{name}: p50 {scored['score_p50_ms']} ms, p99 {scored['score_p99_ms']} ms")
    return {"name": name, "federation_start_seconds": round(ready, 2), **trained, **scored}


def main(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks wan")
    parser.add_argument("--rtt-ms", default="0,20,50", help="round trips to measure, comma-separated")
    parser.add_argument("--rate-mbit", type=float, default=100.0, help="each party's link, each direction")
    parser.add_argument("--enterprises", type=int, default=5000)
    parser.add_argument("--trees", type=int, default=10)
    parser.add_argument("--key-bits", type=int, default=2048)
    parser.add_argument("--requests", type=int, default=300, help="measured single scores per condition")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workdir", help="keep data, state and node logs here (default: a temporary folder)")
    args = parser.parse_args(argv)
    rtts = [float(v) for v in args.rtt_ms.split(",") if v.strip()]
    reason = unavailable_reason()
    if reason is not None:
        _log(f"slow-network runs skipped: {reason}")
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="xyd-bench-wan-") as tmp:
        work = Path(args.workdir) if args.workdir else Path(tmp)
        manifest = generate(args.enterprises, 5, work / "data")
        units = {u.name: NodeData(work / "data" / u.schema, work / "data" / u.table) for u in manifest.units}
        platform = NodeData(work / "data" / manifest.platform.schema, work / "data" / manifest.platform.table)
        sources = {s: units[s] for s in SOURCES}
        codes = sorted(pd.read_csv(platform.table, usecols=["credit_code"], dtype=str)["credit_code"])
        runs = [_condition("loopback", work, platform, sources, codes, args, None)]
        for rtt in rtts if reason is None else []:
            name = f"rtt{rtt:g}ms-{args.rate_mbit:g}mbit"
            with SlowNetwork(PARTIES, rtt_ms=rtt, rate_mbit=args.rate_mbit,
                             services={"platform/main": {"api": API_PORT}}) as network:
                run = _condition(name, work, platform, sources, codes, args, network)
            runs.append({**run, "rtt_ms": rtt, "rate_mbit": args.rate_mbit})
    base = runs[0]
    for run in runs[1:]:
        run["train_vs_loopback"] = round(run["train_seconds"] / base["train_seconds"], 2)
        run["job_vs_loopback"] = round(run["job_seconds"] / base["job_seconds"], 2)
        run["score_p50_vs_loopback_ms"] = round(run["score_p50_ms"] - base["score_p50_ms"], 2)
    return {
        "runs": runs, "enterprises": args.enterprises, "trees": args.trees, "key_bits": args.key_bits,
        "sources": len(SOURCES), "requests": args.requests, "concurrency": args.concurrency,
        "latency_model": "delaying TCP relay, rtt/2 per chunk each direction (no netem in this kernel)",
        "bandwidth_model": "tc tbf on both ends of each party's link",
        "slow_network_skipped": reason,
        "errors": sum(r["score_errors"] for r in runs),
        "load_average_1m_before": round(load_before, 2), "load_average_1m_after": round(os.getloadavg()[0], 2),
    }
