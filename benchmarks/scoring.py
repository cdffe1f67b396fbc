"""Online scoring through the bank API with the platform and three source nodes as separate processes.

`python -m benchmarks scoring --enterprises 10000 --requests 2000 --concurrency 16`: synthetic data, a
SecureBoost model trained by the federation (Paillier-2048), a bank onboarded with `xyd institution add`,
then 100 single scores not measured (the model's first load; `--warmup`), single scores at the given
concurrency, and one batch of up to 10,000 enterprises, all over real HTTP.
Targets (issue 7): single-score p99 <= 50 ms, a 10,000 batch <= 2 s, zero errors.
`degraded_auc` (issue 22): the holdout AUC on default_credit with each source missing in turn, beside the full
model's (`benchmarks/degraded_auc.py`); `--degraded-only` measures that alone (seconds, no federation).
`--privacy direct|precomputed|cover|all` (issue 22 item 3, docs/protocols/private-scoring.md): the same load in
each private-query mode on the same federation (the platform restarted with its `[api.privacy]` between modes);
`modes` gives each mode's p50/p99, throughput, errors and `source_requests_carrying_ids`: the scoring requests
that named enterprises, as counted by the source nodes themselves (their gRPC metrics).
`--lr` also trains a vertical LR (raw features; 1,024-bit keys and one epoch: its training is not what is
measured) before the SecureBoost model, and measures single scores naming it in each mode: `modes_lr`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pandas as pd
import psutil

from benchmarks.degraded_auc import measure as degraded_auc
from benchmarks.degraded_auc import measure_lr as degraded_auc_lr
from sandbox.demo.bank import onboard
from sandbox.http_load import run_closed_loop
from sandbox.launcher import LocalFederation, NodeData
from sandbox.synthdata import generate

SOURCES = ("tax", "social_insurance", "utilities")
MODES = ("direct", "precomputed", "cover")
# Scoring requests that carry enterprise ids (a precomputed table's `Decisions` carries none).
_ID_METHODS = re.compile(r'xyd_grpc_server_handling_seconds_count\{method="/xyd\.scoring\.PartyScoring/'
                         r'(LeafMasks|Points|LinearScores)"\} ([0-9.e+]+)')
LR_PART = "hetero-lr-part.bin"


def _job(trees: int) -> str:
    passive = ", ".join(f'"source/{s}"' for s in SOURCES)
    return (f'[job]\nname = "bench-scoring"\nproject = "sandbox"\nstages = ["psi", "train", "publish"]\n[parties]\n'
            f'active = "platform/main"\npassive = [{passive}]\n[psi]\nreveal = "both"\n[train]\n'
            f'algorithm = "secureboost"\nn_trees = {trees}\nmax_depth = 3\nbins = 32\nkey_bits = 2048\n')


def _lr_job() -> str:
    passive = ", ".join(f'"source/{s}"' for s in SOURCES)
    return (f'[job]\nname = "bench-scoring-lr"\nproject = "sandbox"\nstages = ["psi", "train", "publish"]\n'
            f'[parties]\nactive = "platform/main"\npassive = [{passive}]\n[psi]\nreveal = "both"\n[train]\n'
            f'algorithm = "hetero_lr"\nkey_bits = 1024\nepochs = 1\nbatch_size = 4096\n')


def _train(federation: LocalFederation, spec: str) -> None:
    with federation.client() as client:
        job = client.submit(spec)
        for event in client.watch(job):
            if event.message:
                print(f"[{event.party}] {event.stage}: {event.message}", file=sys.stderr)
        status = client.status(job)
        if status.state != "SUCCEEDED":
            raise SystemExit(f"training failed: {status.error}")


def published_lr(federation: LocalFederation) -> str | None:
    """The id of a vertical LR the platform published, if any."""
    found = sorted((federation.state_dir / "nodes" / "platform-main" / "state" / "models").glob(f"*/{LR_PART}"))
    return found[0].parent.name if found else None


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


@contextlib.contextmanager
def trained_federation(enterprises: int, trees: int, *, workdir: str | None = None, database_url: str | None = None,
                       prefix: str = "xyd-bench-scoring-", api_privacy: dict | None = None, lr: bool = False,
                       ) -> Iterator[tuple[LocalFederation, str, list[str]]]:
    """A running federation (platform, three sources) over synthetic data with a SecureBoost model trained and
    published (after a vertical LR if `lr`: the SecureBoost model stays the latest, the default), and a bank
    onboarded: yields (federation, the bank's API key, the platform's credit codes)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        work = Path(workdir) if workdir else Path(tmp)
        manifest = generate(enterprises, 5, work / "data")
        units = {u.name: NodeData(work / "data" / u.schema, work / "data" / u.table) for u in manifest.units}
        federation = LocalFederation(work / "state", NodeData(work / "data" / manifest.platform.schema,
                                                              work / "data" / manifest.platform.table),
                                     {s: units[s] for s in SOURCES}, api_database_url=database_url,
                                     api_privacy=dict(api_privacy or {}),
                                     source_scoring={"precomputed": True},
                                     node_policy={"allow_insecure_keys_for_tests": True} if lr else {})
        with federation:
            if lr:
                _train(federation, _lr_job())
            _train(federation, _job(trees))
            key = onboard(federation.platform_config, "bench-bank", "Benchmark Bank", limits=(1e6, 100_000, 10_000_000))
            now = datetime.now(UTC)
            subprocess.run([sys.executable, "-m", "cli.main", "institution", "agreement", "--config",
                            str(federation.platform_config), "bank/bench-bank", "--scope", "BULK_SCORING",
                            "--reference", "DSA-BENCH-1", "--not-before", (now - timedelta(days=1)).isoformat(),
                            "--not-after", (now + timedelta(days=30)).isoformat()], check=True, capture_output=True,
                           timeout=60)
            codes = sorted(pd.read_csv(work / "data" / manifest.platform.table, usecols=["credit_code"],
                                       dtype=str)["credit_code"])
            yield federation, key, codes


def _requests_carrying_ids(federation: LocalFederation) -> int:
    """How many scoring requests naming enterprises the source nodes have received (their own metrics)."""
    total = 0
    for name in SOURCES:
        text = httpx.get(federation.metrics_url("source", name) + "/metrics", timeout=10.0).text
        total += int(sum(float(m.group(2)) for m in _ID_METHODS.finditer(text)))
    return total


def _measure(federation: LocalFederation, key: str, codes: list[str], args: argparse.Namespace,
             model_id: str | None = None) -> dict:
    """Warm-up, the measured single scores and one batch through the bank API as it is configured now (of
    `model_id` if given, else the default model)."""
    headers = {"Authorization": f"Bearer {key}"}
    named = {"model_id": model_id} if model_id else {}
    carrying_before = _requests_carrying_ids(federation)
    # Not measured: the first requests load the newly published model and open the channels (in precomputed
    # mode, fetch the sources' tables), which a serving platform did long before its traffic (counted in
    # `warmup_errors` if any fails).
    warmup = run_closed_loop(federation.api_url, "/v1/scores", headers,
                             lambda i: {"credit_code": codes[-1 - i % len(codes)], "purpose": "PRE_LOAN_REVIEW",
                                        "loan_application_ref": f"WARM-{i}", **named},
                             requests=args.warmup, concurrency=args.concurrency)
    processes = {m.name: psutil.Process(m.process.pid) for m in federation.group.members if m.process.poll() is None}
    cpu_before = {name: _cpu(proc) for name, proc in processes.items()}
    client_before = _cpu(psutil.Process())
    load = run_closed_loop(federation.api_url, "/v1/scores", headers,
                           lambda i: {"credit_code": codes[i % len(codes)], "purpose": "PRE_LOAN_REVIEW",
                                      "loan_application_ref": f"BENCH-{i}", **named},
                           requests=args.requests, concurrency=args.concurrency)
    errors = list(load.errors) + [f"warm-up: {e}" for e in warmup.errors]
    client_cpu_ms = (_cpu(psutil.Process()) - client_before) * 1000 / max(1, len(load.latencies_s))
    cpu_ms = {name: (_cpu(proc) - cpu_before[name]) * 1000 / max(1, len(load.latencies_s))
              for name, proc in processes.items()}
    batch_codes = codes[: args.batch]
    with httpx.Client(base_url=federation.api_url, timeout=120.0, headers=headers) as http:
        started = time.perf_counter()
        reply = http.post("/v1/scores/batch", json={"credit_codes": batch_codes, "purpose": "PRE_LOAN_REVIEW",
                                                    "loan_application_ref": "BENCH-BATCH", **named})
        batch_seconds = time.perf_counter() - started
    if reply.status_code != 200:
        errors.append(f"batch {reply.status_code}: {reply.text[:200]}")
    return {
        **load.summary(),
        "batch_size": len(batch_codes), "batch_10k_seconds": round(batch_seconds, 3),
        "errors": len(errors), "error_samples": sorted(set(errors))[:5],
        "source_requests_carrying_ids": _requests_carrying_ids(federation) - carrying_before,
        # CPU per single score (user + system), which other load on a shared machine does not inflate.
        "platform_cpu_ms_per_request": round(cpu_ms.get("platform/main", 0.0), 2),
        "sources_cpu_ms_per_request": round(sum(v for k, v in cpu_ms.items() if k.startswith("source/")), 2),
        "client_cpu_ms_per_request": round(client_cpu_ms, 2),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks scoring")
    parser.add_argument("--enterprises", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--trees", type=int, default=10)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--warmup", type=int, default=100, help="single scores before the measured ones")
    parser.add_argument("--privacy", choices=[*MODES, "all"], default="direct",
                        help="the private-query mode(s) to measure (all: each in turn, side by side)")
    parser.add_argument("--cover-k", type=int, default=4, help="decoys per real enterprise in cover mode")
    parser.add_argument("--lr", action="store_true", help="also a vertical LR, measured in each mode (modes_lr)")
    parser.add_argument("--database-url", help="the platform API's database (an empty one), e.g. "
                        "postgresql+psycopg://user@/db?host=/run/postgresql (default: SQLite in the state folder)")
    parser.add_argument("--workdir", help="keep the data, state and node logs here (default: a temporary folder, "
                        "removed at the end)")
    parser.add_argument("--degraded-only", action="store_true",
                        help="only the accuracy cost of degraded scoring (degraded_auc), no federation")
    args = parser.parse_args(argv)
    if args.degraded_only:
        return {"degraded_auc": degraded_auc(), "degraded_auc_lr": degraded_auc_lr()}
    modes = list(MODES) if args.privacy == "all" else [args.privacy]
    measured: dict[str, dict] = {}
    measured_lr: dict[str, dict] = {}
    with trained_federation(args.enterprises, args.trees, workdir=args.workdir, database_url=args.database_url,
                            api_privacy={"mode": modes[0], "cover_k": args.cover_k}, lr=args.lr) as (
            federation, key, codes):
        lr_model = published_lr(federation) if args.lr else None
        for n, mode in enumerate(modes):
            if n:  # the platform restarted with the next mode; the sources and the model stay as they are
                federation.api_privacy = {"mode": mode, "cover_k": args.cover_k}
                federation.kill("platform/main", signal.SIGTERM)
                federation.restart("platform/main")
            measured[mode] = _measure(federation, key, codes, args)
            print(f"[{mode}] p50 {measured[mode]['p50_ms']} ms, p99 {measured[mode]['p99_ms']} ms, "
                  f"errors {measured[mode]['errors']}", file=sys.stderr)
            if lr_model:
                measured_lr[mode] = _measure(federation, key, codes, args, lr_model)
                print(f"[{mode}, LR] p50 {measured_lr[mode]['p50_ms']} ms, p99 {measured_lr[mode]['p99_ms']} ms, "
                      f"errors {measured_lr[mode]['errors']}", file=sys.stderr)
    first = measured[modes[0]]
    return {
        "enterprises": args.enterprises, "requests": args.requests, "concurrency": args.concurrency,
        "warmup_requests": args.warmup, "privacy": args.privacy, "cover_k": args.cover_k,
        **first,
        "errors": sum(m["errors"] for m in (*measured.values(), *measured_lr.values())),
        "sources": len(SOURCES), "trees": args.trees,
        "database": (args.database_url or "sqlite").split(":", 1)[0],
        "modes": measured,
        **({"modes_lr": measured_lr, "lr_model": lr_model} if args.lr else {}),
        "degraded_auc": degraded_auc(),
        "degraded_auc_lr": degraded_auc_lr(),
    }
