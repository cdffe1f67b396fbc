"""Latency of the bank API against the local scorecard scorer: `python -m benchmarks api_local`.

Starts `xyd api serve` (the platform_node.api.cli hook) as a separate process over a fresh SQLite database,
onboards one bank with a BULK_SCORING agreement, then measures POST /v1/scores with `--concurrency` client
threads and one POST /v1/scores/batch of `--batch` enterprises. Reports p50_ms, p99_ms, requests_per_s,
batch_seconds, the server's CPU per request and per batch (which other load on a shared machine does not
inflate), errors. The scorer is in-process (no source nodes), so this bounds the API's own overhead:
authentication, rate limit, quota, the use row and its audit leaf in one transaction, JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

from consent.credit_code import generate_credit_code
from platform_node.api.cli import main as cli_main
from sandbox.http_load import run_closed_loop

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {
    "source/tax": {"tax_paid": (0, 3e6), "tax_arrears": (0, 1)},
    "source/social_insurance": {"insured_headcount": (1, 300)},
    "source/court": {"enforcement_cases": (0, 3)},
}
CHARACTERISTICS = [
    {"feature": "tax_paid", "source": "source/tax", "category": "tax", "missing_points": 10,
     "bins": [[50000, 5], [200000, 20], [1000000, 35], [None, 50]]},
    {"feature": "tax_arrears", "source": "source/tax", "category": "tax", "missing_points": 0,
     "bins": [[0.5, 30], [None, -10]]},
    {"feature": "insured_headcount", "source": "source/social_insurance", "category": "social_insurance",
     "missing_points": 8, "bins": [[5, 5], [20, 20], [100, 30], [None, 40]]},
    {"feature": "enforcement_cases", "source": "source/court", "category": "court_records", "missing_points": 15,
     "bins": [[0.5, 40], [2, 10], [None, -20]]},
]


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _write_model(folder: Path, codes: list[str], rng: random.Random) -> Path:
    tables = {}
    for source, features in SOURCES.items():
        path = folder / f"{source.split('/')[1]}.csv"
        lines = ["credit_code," + ",".join(features)]
        for code in codes:
            lines.append(code + "," + ",".join(f"{rng.uniform(lo, hi):.2f}" for lo, hi in features.values()))
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        tables[source] = path.name
    model = {"model_id": "scorecard-bench", "model_version": "1", "base_points": 560,
             "characteristics": CHARACTERISTICS, "tables": tables}
    path = folder / "model.json"
    path.write_text(json.dumps(model), encoding="utf-8")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _quiet_cli(argv: list[str]) -> dict:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        if cli_main(argv) != 0:
            raise RuntimeError(f"xyd {' '.join(argv[:2])} failed")
    return json.loads(out.getvalue().splitlines()[0])


def main(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks api_local")
    parser.add_argument("--enterprises", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--batch", type=int, default=10_000)
    args = parser.parse_args(argv)
    rng = random.Random(2025)
    codes = sorted({generate_credit_code(rng) for _ in range(args.enterprises)})
    with tempfile.TemporaryDirectory(prefix="xyd-api-bench-") as tmp:
        folder = Path(tmp)
        port = _free_port()
        config = folder / "api.toml"
        config.write_text(
            f'[api]\ndatabase_url = "sqlite:///{folder / "api.db"}"\nsecrets_file = "{folder / "master.key"}"\n'
            f'port = {port}\nscorer_model_file = "{_write_model(folder, codes, rng)}"\nrun_ticker = false\n'
            f"[api.default_limits]\nrate_per_s = 100000.0\nburst = 100000\ndaily_quota = 100000000\n",
            encoding="utf-8",
        )
        bank = _quiet_cli(["institution", "add", "--config", str(config), "--kind", "bank", "--slug", "bench",
                           "--name", "Bench Bank", "--role", "bank"])
        _quiet_cli(["institution", "agreement", "--config", str(config), "bank/bench", "--scope", "BULK_SCORING",
                    "--reference", "DSA-BENCH", "--not-before", "2000-01-01T00:00:00Z",
                    "--not-after", "2100-01-01T00:00:00Z"])
        server = subprocess.Popen([sys.executable, "-m", "platform_node.api.cli", "api", "serve", "--config",
                                   str(config)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            return _measure(f"http://127.0.0.1:{port}", bank["api_key"], codes, args, server)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=5)


def _measure(url: str, key: str, codes: list[str], args: argparse.Namespace, server: subprocess.Popen) -> dict:
    headers = {"Authorization": f"Bearer {key}"}
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{url}/v1/health", timeout=1)
            break
        except httpx.TransportError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start") from None
            time.sleep(0.1)
    _log(f"server up at {url}; {args.requests} single scores with {args.concurrency} clients")
    picker = random.Random(7)
    picks = [picker.choice(codes) for _ in range(args.requests)]
    with httpx.Client(base_url=url, headers=headers, timeout=30) as warm:
        warm.post("/v1/scores", json={"credit_code": codes[0], "purpose": "PRE_LOAN_REVIEW",
                                      "loan_application_ref": "WARM"})
    process = psutil.Process(server.pid)

    def cpu_seconds() -> float:
        times = process.cpu_times()
        return times.user + times.system

    cpu_before = cpu_seconds()
    load = run_closed_loop(url, "/v1/scores", headers,
                           lambda i: {"credit_code": picks[i], "purpose": "PRE_LOAN_REVIEW",
                                      "loan_application_ref": f"LA-{i}"},
                           requests=args.requests, concurrency=args.concurrency)
    elapsed = load.wall_s
    single_cpu = cpu_seconds() - cpu_before
    errors = len(load.errors)
    latencies = load.latencies_s
    ordered = sorted(latencies)
    batch_codes = codes[: args.batch]
    _log(f"single scores done in {elapsed:.1f} s; batch of {len(batch_codes)}")
    with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
        cpu_before = cpu_seconds()
        start = time.perf_counter()
        answer = http.post("/v1/scores/batch", json={"credit_codes": batch_codes, "purpose": "PRE_LOAN_REVIEW",
                                                     "loan_application_ref": "PORTFOLIO-1"})
        batch_seconds = time.perf_counter() - start
        batch_cpu = cpu_seconds() - cpu_before
    if answer.status_code != 200 or answer.json()["scored"] != len(batch_codes):
        errors += 1
    return {
        **load.summary(),
        "batch_size": len(batch_codes),
        "batch_seconds": round(batch_seconds, 3),
        # Server CPU is what the load of other processes on a shared machine does not inflate.
        "server_cpu_ms_per_request": round(single_cpu / len(ordered) * 1000, 2),
        "batch_server_cpu_seconds": round(batch_cpu, 3),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "requests": len(ordered),
        "concurrency": args.concurrency,
        "errors": errors,
    }
