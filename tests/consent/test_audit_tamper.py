"""Tamper detection: edited, deleted, reordered or forged rows are caught against a saved checkpoint."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, delete, select, update

from consent.audit import (
    AuditEvent,
    AuditLog,
    Checkpoint,
    Ed25519Signer,
    EventKind,
    LogTamperedError,
    open_engine,
    sign_checkpoint,
    verify_checkpoint,
    verify_log_against_checkpoint,
)
from consent.audit.schema import node_key
from consent.merkle import ProofError, verify_inclusion

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
ORIGIN = "xyd.test/registry-audit"


def use_event(n: int) -> AuditEvent:
    return AuditEvent(
        kind=EventKind.VERIFICATION_ANSWERED, occurred_at=T0 + timedelta(seconds=n),
        authorisation_id="auth-1", use_id=f"use-{n}", institution="bank/icbc-sz", source_unit="source/tax",
    )


@pytest.fixture
def saved(tmp_path: Path) -> tuple[AuditLog, Checkpoint]:
    """A log of 40 leaves and a checkpoint signed at size 33, verified as a client would."""
    engine = open_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    log = AuditLog(engine)
    log.create_schema()
    with engine.begin() as conn:
        log.append_many(conn, [use_event(n) for n in range(33)])
    signer = Ed25519Signer.generate(ORIGIN)
    head = log.tree_head()
    note = sign_checkpoint(Checkpoint(ORIGIN, head.size, head.root), signer)
    with engine.begin() as conn:
        log.append_many(conn, [use_event(n) for n in range(33, 40)])
    return log, verify_checkpoint(note, signer.verifier()).checkpoint


def tamper(log: AuditLog, change: Callable[[Connection], object]) -> None:
    with log.engine.begin() as conn:
        change(conn)


def test_untouched_log_verifies_against_old_and_current_checkpoints(saved: tuple[AuditLog, Checkpoint]) -> None:
    log, checkpoint = saved
    verify_log_against_checkpoint(log, checkpoint)
    head = log.tree_head()
    verify_log_against_checkpoint(log, Checkpoint(ORIGIN, head.size, head.root))


def test_edited_leaf_is_detected(saved: tuple[AuditLog, Checkpoint]) -> None:
    log, checkpoint = saved
    leaf = log.tables.leaf
    forged = use_event(12).to_leaf().replace(b"bank/icbc-sz", b"bank/other1")
    tamper(log, lambda c: c.execute(update(leaf).where(leaf.c.idx == 12).values(leaf=forged)))
    with pytest.raises(LogTamperedError) as caught:
        verify_log_against_checkpoint(log, checkpoint)
    assert caught.value.index == 12


def test_edited_leaf_with_recomputed_hashes_is_still_detected_by_the_root(
    saved: tuple[AuditLog, Checkpoint],
) -> None:
    from consent.merkle import leaf_hash

    log, checkpoint = saved
    leaf = log.tables.leaf
    forged = use_event(12).to_leaf().replace(b"bank/icbc-sz", b"bank/other1")
    tamper(log, lambda c: c.execute(
        update(leaf).where(leaf.c.idx == 12).values(leaf=forged, leaf_hash=leaf_hash(forged))
    ))
    with pytest.raises(LogTamperedError, match="node|hash to"):
        verify_log_against_checkpoint(log, checkpoint)
    with pytest.raises(LogTamperedError, match="hash to"):
        verify_log_against_checkpoint(log, checkpoint, check_nodes=False)


def test_deleted_leaf_is_detected(saved: tuple[AuditLog, Checkpoint]) -> None:
    log, checkpoint = saved
    leaf = log.tables.leaf
    tamper(log, lambda c: c.execute(delete(leaf).where(leaf.c.idx == 20)))
    with pytest.raises(LogTamperedError, match="missing") as caught:
        verify_log_against_checkpoint(log, checkpoint)
    assert caught.value.index == 20


def test_deleted_and_renumbered_leaves_are_detected(saved: tuple[AuditLog, Checkpoint]) -> None:
    log, checkpoint = saved
    leaf = log.tables.leaf

    def close_the_gap(conn: Connection) -> None:
        conn.execute(delete(leaf).where(leaf.c.idx == 20))
        for index in range(21, 40):
            conn.execute(update(leaf).where(leaf.c.idx == index).values(idx=index - 1))

    tamper(log, close_the_gap)
    with pytest.raises(LogTamperedError):
        verify_log_against_checkpoint(log, checkpoint, check_nodes=False)


def test_reordered_rows_are_detected(saved: tuple[AuditLog, Checkpoint]) -> None:
    log, checkpoint = saved
    leaf = log.tables.leaf

    def swap(conn: Connection) -> None:
        a, b = (conn.execute(select(leaf.c.leaf, leaf.c.leaf_hash).where(leaf.c.idx == i)).one() for i in (3, 9))
        conn.execute(update(leaf).where(leaf.c.idx == 3).values(leaf=b.leaf, leaf_hash=b.leaf_hash))
        conn.execute(update(leaf).where(leaf.c.idx == 9).values(leaf=a.leaf, leaf_hash=a.leaf_hash))

    tamper(log, swap)
    with pytest.raises(LogTamperedError):
        verify_log_against_checkpoint(log, checkpoint)
    with pytest.raises(LogTamperedError, match="hash to"):
        verify_log_against_checkpoint(log, checkpoint, check_nodes=False)


def test_truncated_log_is_detected(saved: tuple[AuditLog, Checkpoint]) -> None:
    log, checkpoint = saved
    leaf, head = log.tables.leaf, log.tables.head
    tamper(log, lambda c: (c.execute(delete(leaf).where(leaf.c.idx >= 30)),
                           c.execute(update(head).values(tree_size=30))))
    with pytest.raises(LogTamperedError, match="30 leaves"):
        verify_log_against_checkpoint(log, checkpoint)


def test_forged_proof_cache_is_detected_and_its_proofs_fail(saved: tuple[AuditLog, Checkpoint]) -> None:
    log, checkpoint = saved
    node = log.tables.node
    tamper(log, lambda c: c.execute(update(node).where(node.c.key == node_key(2, 1)).values(hash=b"\0" * 32)))
    with pytest.raises(LogTamperedError, match="node"):
        verify_log_against_checkpoint(log, checkpoint)
    proof = log.inclusion_proof(0, checkpoint.size)  # leaf 0's path uses node (2, 1)
    with pytest.raises(ProofError):
        verify_inclusion(log.leaf(0).leaf_hash, 0, checkpoint.size, proof, checkpoint.root)


def test_forged_frontier_is_detected(saved: tuple[AuditLog, Checkpoint]) -> None:
    log, _ = saved
    head_table = log.tables.head
    head = log.tree_head()
    current = Checkpoint(ORIGIN, head.size, head.root)
    tamper(log, lambda c: c.execute(update(head_table).values(frontier=b"\1" * 32 * head.size.bit_count())))
    with pytest.raises(LogTamperedError, match="frontier"):
        verify_log_against_checkpoint(log, current)
