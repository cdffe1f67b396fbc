"""Audit-log benchmark: transactional append throughput on SQLite (file, WAL), proof costs and sizes.

`python -m benchmarks audit [--leaves 100000] [--timed-appends 5000] [--proofs 300] [--verify-requests 300]`
Each timed append is one transaction that writes a small state row AND the leaf, as the consent store
does. The log is then filled to --leaves with batched appends and proofs are generated from the stored
nodes (one read transaction per proof) and verified.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, insert

from consent.audit import (
    AuditEvent,
    AuditLog,
    Checkpoint,
    CheckpointPublisher,
    CosignatureSigner,
    Ed25519Signer,
    EventKind,
    Witness,
    open_engine,
    sha256_hex,
    verify_log_against_checkpoint,
)
from consent.merkle import verify_consistency, verify_inclusion

T0 = datetime(2026, 3, 1, tzinfo=UTC)
ORIGIN = "xyd.bench/registry-audit"


def _event(n: int) -> AuditEvent:
    return AuditEvent(
        kind=EventKind.VERIFICATION_ANSWERED, occurred_at=T0 + timedelta(milliseconds=n),
        authorisation_id=f"auth-{n % 997}", use_id=f"use-{n:09d}", institution="bank/icbc-sz",
        source_unit="source/tax", digests={"request": sha256_hex(n.to_bytes(8, "big"))},
    )


def _log(message: str) -> None:
    print(f"[audit bench] {message}", file=sys.stderr, flush=True)


def _transactional_appends(url: str, count: int, synchronous: str, threads: int = 1) -> tuple[float, float]:
    """(appends per wall second, appends per CPU second of this process), each append in its own
    transaction together with a state-row insert. The CPU figure is what one free core would give; it
    matters on a shared machine where the wall figure mostly measures the other processes."""
    engine = open_engine(url, synchronous=synchronous)
    state = Table("use_state", MetaData(), Column("id", Integer, primary_key=True), Column("use_id", String(32)))
    state.metadata.create_all(engine)
    log = AuditLog(engine)
    log.create_schema()
    events = [_event(n) for n in range(count)]
    add_state = insert(state)

    def work(part: range) -> None:
        for n in part:
            with engine.begin() as conn:
                conn.execute(add_state, {"use_id": events[n].use_id})
                log.append(conn, events[n])

    started, cpu_started = time.perf_counter(), time.process_time()
    if threads == 1:
        work(range(count))
    else:
        workers = [threading.Thread(target=work, args=(range(t, count, threads),)) for t in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    assert log.tree_size() == count
    engine.dispose()
    return count / elapsed, count / cpu


def _median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


def _p99_ms(samples: list[float]) -> float:
    return round(sorted(samples)[int(len(samples) * 0.99) - 1] * 1000, 3)


def main(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks audit")
    parser.add_argument("--leaves", type=int, default=100_000)
    parser.add_argument("--timed-appends", type=int, default=5_000)
    parser.add_argument("--proofs", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--verify-requests", type=int, default=300,
                        help="timed verification round trips, HTTP to the platform and mTLS to the node (benchmarks/verify.py); 0 skips them")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    result: dict = {
        "leaves": args.leaves, "backend": "sqlite-file-wal", "cpus": os.cpu_count(),
        "load_average_at_start": round(os.getloadavg()[0], 2),
    }
    with tempfile.TemporaryDirectory(prefix="xyd-audit-bench-") as tmp:
        directory = Path(tmp)
        _log(f"{args.timed_appends} transactional appends (synchronous=NORMAL)")
        wall, cpu = _transactional_appends(f"sqlite:///{directory / 'normal.db'}", args.timed_appends, "NORMAL")
        result["append_per_s"], result["append_per_cpu_s"] = round(wall, 1), round(cpu, 1)
        _log("same with 4 writer threads")
        wall, cpu = _transactional_appends(f"sqlite:///{directory / 'threads.db'}", args.timed_appends, "NORMAL", 4)
        result["append_per_s_4_threads"] = round(wall, 1)
        full = max(args.timed_appends // 5, 100)
        _log(f"{full} transactional appends (synchronous=FULL, fsync per commit)")
        wall, cpu = _transactional_appends(f"sqlite:///{directory / 'full.db'}", full, "FULL")
        result["append_per_s_sync_full"] = round(wall, 1)

        db = directory / "big.db"
        engine = open_engine(f"sqlite:///{db}")
        log = AuditLog(engine)
        log.create_schema()
        _log(f"filling to {args.leaves} leaves in batches of 1000")
        started = time.perf_counter()
        for start in range(0, args.leaves, 1000):
            with engine.begin() as conn:
                log.append_many(conn, [_event(n) for n in range(start, min(start + 1000, args.leaves))])
        result["batched_append_per_s"] = round(args.leaves / (time.perf_counter() - started), 1)
        head = log.tree_head()
        size = head.size

        inclusion_times, inclusion_verify, inclusion_sizes = [], [], []
        for _ in range(args.proofs):
            index = rng.randrange(size)
            started = time.perf_counter()
            proof = log.inclusion_proof(index, size)
            inclusion_times.append(time.perf_counter() - started)
            leaf = log.leaf(index).leaf_hash
            started = time.perf_counter()
            verify_inclusion(leaf, index, size, proof, head.root)
            inclusion_verify.append(time.perf_counter() - started)
            inclusion_sizes.append(len(proof))
        consistency_times, consistency_sizes = [], []
        for _ in range(args.proofs):
            old = rng.randrange(1, size)
            old_root = log.root(old)
            started = time.perf_counter()
            proof = log.consistency_proof(old, size)
            consistency_times.append(time.perf_counter() - started)
            verify_consistency(old, size, old_root, head.root, proof)
            consistency_sizes.append(len(proof))
        root_times = []
        for _ in range(50):
            old = rng.randrange(1, size)
            started = time.perf_counter()
            log.root(old)
            root_times.append(time.perf_counter() - started)
        result.update(
            inclusion_proof_ms=_median_ms(inclusion_times),
            inclusion_proof_p99_ms=_p99_ms(inclusion_times),
            inclusion_verify_ms=_median_ms(inclusion_verify),
            inclusion_proof_hashes_max=max(inclusion_sizes),
            inclusion_proof_bytes_max=32 * max(inclusion_sizes),
            consistency_proof_ms=_median_ms(consistency_times),
            consistency_proof_p99_ms=_p99_ms(consistency_times),
            consistency_proof_hashes_max=max(consistency_sizes),
            consistency_proof_bytes_max=32 * max(consistency_sizes),
            historical_root_ms=_median_ms(root_times),
        )

        _log("checkpoint signed and cosigned by 3 witnesses")
        signer = Ed25519Signer.generate(ORIGIN)
        witnesses = [Witness(CosignatureSigner.generate(f"source/{u}"), [signer.verifier()])
                     for u in ("tax", "social", "water")]
        publisher = CheckpointPublisher(log, signer, witnesses, quorum=3)
        publisher.publish(now=T0)
        with engine.begin() as conn:
            log.append_many(conn, [_event(n) for n in range(size, size + 100)])
        started = time.perf_counter()
        publication = publisher.publish(now=T0 + timedelta(minutes=1))
        result["checkpoint_publish_ms"] = round((time.perf_counter() - started) * 1000, 2)
        result["checkpoint_note_bytes"] = len(publication.note.encode())

        _log("full tamper check (recompute every leaf and node)")
        checkpoint = Checkpoint(ORIGIN, publication.checkpoint.size, publication.checkpoint.root)
        started = time.perf_counter()
        verify_log_against_checkpoint(log, checkpoint)
        result["verify_log_s"] = round(time.perf_counter() - started, 2)
        engine.dispose()
        db_bytes = sum(p.stat().st_size for p in directory.glob("big.db*"))
        result["db_bytes_per_leaf"] = round(db_bytes / checkpoint.size, 1)
    if args.verify_requests > 0:
        from benchmarks.verify import measure

        _log(f"{args.verify_requests} verification round trips bank -(HTTP)-> platform -(mTLS)-> source node (processes)")
        result.update(measure(args.verify_requests, seed=args.seed))
    else:
        result["verify_request_p50_ms"] = result["verify_request_p99_ms"] = None
    result["note"] = (
        "append_per_s: one transaction per append incl. a state row. verify_request_*: signed verification "
        "round trip at the bank (sign, relay through the platform, source-node gate with online status, seal, "
        "open), platform (with its HTTP API) and source node as separate processes on loopback: HTTP to the platform, "
        "mTLS gRPC to the node."
    )
    return result
