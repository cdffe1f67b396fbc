"""PSI benchmark: `python -m benchmarks psi --rows N --overlap F [--batch B]`.

Two parties (platform/main leads, source/tax follows), each a separate OS process with its own
NodeServer, run ECDH-PSI over mutual-TLS gRPC on loopback with N ids each, a fraction F of them shared.
Both learn the intersection and check it against the known answer. `seconds` is the wall time from the
moment both servers are up until both parties have their result (hashing included, process start-up not).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._party_process import PartyProcess
from federation.pki import CertificateAuthority, Identity
from federation.psi import DEFAULT_BATCH_SIZE

ROLES = {"leader": "platform/main", "follower": "source/tax"}


def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks psi")
    parser.add_argument("--rows", type=int, default=200_000, help="distinct ids per party")
    parser.add_argument("--overlap", type=float, default=0.5, help="fraction of each party's ids that are shared")
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH_SIZE, help="points per message")
    parser.add_argument("--workers", type=int, default=1, help="blinding processes per party")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds before giving up")
    args = parser.parse_args(argv)
    if args.rows < 0 or not 0.0 <= args.overlap <= 1.0:
        parser.error("need rows >= 0 and 0 <= overlap <= 1")
    shared = round(args.rows * args.overlap)
    parties: list[PartyProcess] = []
    with tempfile.TemporaryDirectory(prefix="xyd-bench-psi-") as pki:
        ca = CertificateAuthority.create(Path(pki))
        for party in ROLES.values():
            ca.issue(Identity.parse(party))
        common = ["--pki", pki, "--rows", str(args.rows), "--shared", str(shared), "--batch", str(args.batch),
                  "--workers", str(args.workers)]
        try:
            for role in ROLES:
                parties.append(PartyProcess(role, "benchmarks._psi_party", ["--role", role, *common]))
            addresses = [party.receive(timeout=60)["address"] for party in parties]
            started = time.perf_counter()
            for party, peer_address in zip(parties, reversed(addresses), strict=True):
                party.tell({"peer_address": peer_address})
            reports = {party.name: party.receive(timeout=args.timeout) for party in parties}
            seconds = time.perf_counter() - started
        finally:
            for party in parties:
                party.finish()
    sizes = {report["size"] for report in reports.values()}
    intersection = sizes.pop() if len(sizes) == 1 else -1
    print(f"psi: {args.rows} x {args.rows} rows in {seconds:.1f}s, intersection {intersection}", file=sys.stderr)
    return {
        "benchmark": "psi",
        "rows": args.rows,
        "overlap": args.overlap,
        "batch": args.batch,
        "workers": args.workers,
        "intersection": intersection,
        "expected_intersection": shared,
        "correct": intersection == shared and all(r["intersection_correct"] for r in reports.values()),
        "seconds": round(seconds, 3),
        "rows_per_second": round(args.rows / seconds, 1) if seconds > 0 else None,
        "peak_rss_mb": round(sum(r["peak_rss_mb"] for r in reports.values()), 1),
        "cpu_seconds": round(sum(r["cpu_seconds"] for r in reports.values()), 1),
        "parties": reports,
    }
