"""PSI benchmark: `python -m benchmarks psi --rows N --overlap F [--batch B]`.

Two parties (platform/main leads, source/tax follows), each a separate OS process with its own
NodeServer, run ECDH-PSI over mutual-TLS gRPC on loopback with N ids each, a fraction F of them shared.
Both learn the intersection and check it against the known answer. `seconds` is the wall time from the
moment both servers are up until both parties have their result (hashing included, process start-up not).
"""

from __future__ import annotations

import argparse
import json
import queue
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

from federation.pki import CertificateAuthority, Identity
from federation.psi import DEFAULT_BATCH_SIZE

REPO_ROOT = Path(__file__).resolve().parent.parent
ROLES = {"leader": "platform/main", "follower": "source/tax"}


class Party:
    """A child process running one side; lines from its stdout arrive on a queue (so reads can time out)."""

    def __init__(self, role: str, argv: list[str]) -> None:
        self.role = role
        self.process = subprocess.Popen([sys.executable, "-m", "benchmarks._psi_party", "--role", role, *argv],
                                        cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put("")

    def receive(self, timeout: float) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"{self.role} said nothing within {timeout:.0f}s") from None
        if not line:
            raise RuntimeError(f"{self.role} exited with code {self.process.wait(timeout=10)}")
        return json.loads(line)

    def tell(self, payload: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(payload) + "\n")
        self.process.stdin.flush()

    def finish(self) -> None:
        """Ask the child to stop; kill it if it does not within a few seconds."""
        try:
            self.tell({"stop": True})
            self.process.stdin.close()  # type: ignore[union-attr]
        except (OSError, ValueError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


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
    parties: list[Party] = []
    with tempfile.TemporaryDirectory(prefix="xyd-bench-psi-") as pki:
        ca = CertificateAuthority.create(Path(pki))
        for party in ROLES.values():
            ca.issue(Identity.parse(party))
        common = ["--pki", pki, "--rows", str(args.rows), "--shared", str(shared), "--batch", str(args.batch),
                  "--workers", str(args.workers)]
        try:
            for role in ROLES:
                parties.append(Party(role, common))
            addresses = [party.receive(timeout=60)["address"] for party in parties]
            started = time.perf_counter()
            for party, peer_address in zip(parties, reversed(addresses), strict=True):
                party.tell({"peer_address": peer_address})
            reports = {party.role: party.receive(timeout=args.timeout) for party in parties}
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
