"""One PSI party of the benchmark as its own OS process: `python -m benchmarks._psi_party ...`.

Protocol with the parent, one JSON line each way on stdin/stdout: the child prints {"address"}, reads
{"peer_address"}, runs the PSI over mutual-TLS gRPC, prints {"size", ...}, then waits for {"stop"}.
Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import sys
import time
from collections.abc import Iterator

from benchmarks._party_process import PeakMemory, cpu_seconds, emit
from federation.grpc_channel import GrpcChannel
from federation.pki import Identity, NodeTls
from federation.psi import run_psi_follower, run_psi_leader
from federation.server import NodeServer

LEADER, FOLLOWER = "platform/main", "source/tax"


def party_ids(role: str, rows: int, shared: int) -> Iterator[str]:
    """The leader holds ids 0..rows-1, the follower rows-shared..2*rows-shared-1: `shared` in common."""
    start = 0 if role == "leader" else rows - shared
    for number in range(start, start + rows):
        yield f"91{number:016d}"


def expected_intersection(rows: int, shared: int) -> list[str]:
    """The ids both parties hold, sorted as `PsiResult.intersection` is."""
    return [f"91{number:016d}" for number in range(rows - shared, rows)]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._psi_party")
    parser.add_argument("--role", choices=["leader", "follower"], required=True)
    parser.add_argument("--pki", required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--shared", type=int, required=True)
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--job", default="bench-psi")
    args = parser.parse_args(argv)
    me, peer = (LEADER, FOLLOWER) if args.role == "leader" else (FOLLOWER, LEADER)
    tls = NodeTls.load_issued(args.pki, Identity.parse(me))
    server = NodeServer(tls, allowed_roles={"platform", "source"})
    server.start()
    try:
        emit({"address": server.address})
        peer_address = json.loads(sys.stdin.readline())["peer_address"]
        channel = GrpcChannel(me, args.job, {me: server.address, peer: peer_address}, tls,
                              server.mailboxes.open(args.job, {peer}))
        try:
            channel.wait_for_peers(timeout=30)
            last = [-1.0]

            def progress(message: str, fraction: float) -> None:
                if fraction >= last[0] + 0.05 or fraction >= 1.0:
                    last[0] = fraction
                    print(f"[{args.role}] {time.perf_counter() - started:6.2f}s {fraction:4.0%} {message}", file=sys.stderr,
                          flush=True)

            started = time.perf_counter()
            cpu_before = cpu_seconds()
            memory = PeakMemory()
            ids = party_ids(args.role, args.rows, args.shared)
            profile_dir = os.environ.get("XYD_BENCH_PROFILE")  # a folder: each party writes its cProfile stats
            profiler = cProfile.Profile() if profile_dir else None
            if profiler is not None:
                profiler.enable()
            if args.role == "leader":
                result = run_psi_leader(channel, peer, ids, reveal_to_peer=True, batch_size=args.batch,
                                        workers=args.workers, progress=progress)
            else:
                result = run_psi_follower(channel, peer, ids, reveal_to_me=True, batch_size=args.batch,
                                          workers=args.workers, progress=progress)
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(os.path.join(profile_dir, f"psi-{args.role}.prof"))
            seconds = time.perf_counter() - started
        finally:
            channel.close()
        correct = result.intersection == expected_intersection(args.rows, args.shared)
        emit({"size": result.size, "intersection_correct": correct, "seconds": round(seconds, 3),
              "cpu_seconds": round(cpu_seconds() - cpu_before, 3), "peak_rss_mb": memory.stop_mb()})
        sys.stdin.readline()  # the parent's stop line (or EOF)
    finally:
        server.stop(0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
