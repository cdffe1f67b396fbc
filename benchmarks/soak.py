"""A soak of the bank API: single scores from many clients for minutes, with each process's memory and open
files watched (issue 20 item 6).

`python -m benchmarks soak [--clients 64] [--minutes 10]`: the federation of `benchmarks scoring` (platform and
three source nodes as processes, a SecureBoost model trained and published), a warm-up, then closed-loop
rounds of single scores over `--clients` keep-alive connections until the time is up. After the warm-up and
after every round it samples each process's resident memory and open file descriptors. The result names the
requests, errors, latency quantiles, and per process the memory at the start, at the end and its growth, and
the growth of open files. Memory is flat when the growth stays within the noise of a heap that settled (a few
MB), not growing round after round.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import psutil

from benchmarks.scoring import trained_federation
from sandbox.http_load import percentile, run_closed_loop

MB = 1024 * 1024


def _sample(processes: dict[str, psutil.Process]) -> dict[str, tuple[float, int]]:
    """(resident MB, open file descriptors) of each process."""
    return {name: (proc.memory_info().rss / MB, proc.num_fds()) for name, proc in processes.items()}


def main(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks soak")
    parser.add_argument("--clients", type=int, default=64, help="concurrent keep-alive connections")
    parser.add_argument("--minutes", type=float, default=10.0, help="how long the measured rounds run")
    parser.add_argument("--enterprises", type=int, default=2000)
    parser.add_argument("--trees", type=int, default=10)
    parser.add_argument("--round-requests", type=int, default=20_000,
                        help="requests per round (memory is sampled between rounds)")
    parser.add_argument("--warmup", type=int, default=2000, help="single scores before the first sample")
    parser.add_argument("--workdir", help="keep the data, state and node logs here")
    args = parser.parse_args(argv)
    latencies: list[float] = []
    errors: list[str] = []
    samples: list[dict[str, tuple[float, int]]] = []
    with trained_federation(args.enterprises, args.trees, workdir=args.workdir, prefix="xyd-bench-soak-") as (
            federation, key, codes):
        headers = {"Authorization": f"Bearer {key}"}
        processes = {m.name: psutil.Process(m.process.pid) for m in federation.group.members}

        def body(round_no: int):
            return lambda i: {"credit_code": codes[(i * 7 + round_no) % len(codes)], "purpose": "PRE_LOAN_REVIEW",
                              "loan_application_ref": f"SOAK-{round_no}-{i}"}

        # The heap settles during the warm-up (model loaded, channels open, caches filled): measured from here.
        warmup = run_closed_loop(federation.api_url, "/v1/scores", headers, body(0), requests=args.warmup,
                                 concurrency=args.clients)
        errors += [f"warm-up: {e}" for e in warmup.errors]
        samples.append(_sample(processes))
        started = time.monotonic()
        rounds = 0
        while time.monotonic() - started < args.minutes * 60:
            rounds += 1
            load = run_closed_loop(federation.api_url, "/v1/scores", headers, body(rounds),
                                   requests=args.round_requests, concurrency=args.clients)
            latencies += load.latencies_s
            errors += load.errors
            samples.append(_sample(processes))
            federation.group.check_alive()
            print(f"round {rounds}: {len(load.latencies_s)} ok, {len(load.errors)} errors, "
                  f"{load.summary()['requests_per_s']}/s; rss MB "
                  + ", ".join(f"{n}={v[0]:.0f}" for n, v in samples[-1].items()) + "; open files "
                  + ", ".join(f"{n}={v[1]}" for n, v in samples[-1].items()), file=sys.stderr)
        elapsed = time.monotonic() - started
    ordered = sorted(latencies)
    first, last = samples[0], samples[-1]
    return {
        "clients": args.clients, "minutes": round(elapsed / 60, 2), "rounds": rounds,
        "requests": len(latencies) + len(errors), "errors": len(errors), "error_samples": sorted(set(errors))[:5],
        "requests_per_s": round(len(latencies) / elapsed, 1) if elapsed else None,
        "p50_ms": round(statistics.median(ordered) * 1000, 2) if ordered else None,
        "p99_ms": round(percentile(ordered, 0.99) * 1000, 2) if ordered else None,
        "rss_start_mb": {n: round(v[0], 1) for n, v in first.items()},
        "rss_end_mb": {n: round(v[0], 1) for n, v in last.items()},
        "rss_growth_mb": {n: round(last[n][0] - first[n][0], 1) for n in first},
        # Growth over the second half alone: a leak keeps growing there, a heap that settled does not.
        "rss_growth_second_half_mb": {n: round(last[n][0] - samples[len(samples) // 2][n][0], 1) for n in first},
        "fd_growth": {n: last[n][1] - first[n][1] for n in first},
        "fd_growth_second_half": {n: last[n][1] - samples[len(samples) // 2][n][1] for n in first},
        "enterprises": args.enterprises, "trees": args.trees,
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
