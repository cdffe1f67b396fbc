"""What the log's operator can do to its audit log with write access to the database and the log key.

The attacks `xyd audit verify-chain` must detect, written as the operator would run them against the live
SQLite file: delete the newest rows and checkpoints and rewrite the head (truncation), rewrite or reorder
rows and rebuild every derived hash so the database agrees with itself, re-sign a head of another history
(a fork). `snapshot` / `restore` (SQLite's online backup) put the database back between attacks. For the
attack tests and the demo's tamper step; nothing here is used by a running node.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, insert, select, update

from consent.audit import AuditEvent, AuditLog, Checkpoint, Ed25519Signer, sign_checkpoint
from consent.audit.schema import HEAD_ROW_ID, node_key, node_of_key
from consent.merkle import Frontier, leaf_hash


def snapshot(db: Path) -> sqlite3.Connection:
    """A copy of the live database in memory (consistent even while the platform writes)."""
    copy = sqlite3.connect(":memory:")
    with sqlite3.connect(db) as live:
        live.backup(copy)
    return copy


def restore(db: Path, copy: sqlite3.Connection) -> None:
    """Put the copy back into the live database, through SQLite's locking (the platform may keep running)."""
    live = sqlite3.connect(db)
    try:
        copy.backup(live)
    finally:
        live.close()


def rebuild_derived(log: AuditLog) -> None:
    """Recompute the leaf hashes, every stored node and the head from the leaf rows as they now are, so
    the database agrees with itself after rows were rewritten (the careful forger)."""
    tables = log.tables
    with log.engine.begin() as conn:
        rows = conn.execute(select(tables.leaf.c.idx, tables.leaf.c.leaf).order_by(tables.leaf.c.idx)).all()
        conn.execute(delete(tables.node))
        frontier, nodes = Frontier(), []
        for position, row in enumerate(rows):
            if row.idx != position:
                conn.execute(update(tables.leaf).where(tables.leaf.c.idx == row.idx).values(idx=position))
            digest = leaf_hash(row.leaf)
            conn.execute(update(tables.leaf).where(tables.leaf.c.idx == position).values(leaf_hash=digest))
            nodes += [{"key": node_key(n.level, n.index), "hash": h} for n, h in frontier.append(digest)]
        if nodes:
            conn.execute(insert(tables.node), nodes)
        conn.execute(update(tables.head).where(tables.head.c.id == HEAD_ROW_ID)
                     .values(tree_size=frontier.size, frontier=frontier.to_bytes()))


def truncate(log: AuditLog, size: int) -> None:
    """Delete every leaf from `size` on, the nodes and checkpoints that cover them, and rewrite the head."""
    tables = log.tables
    with log.engine.begin() as conn:
        conn.execute(delete(tables.leaf).where(tables.leaf.c.idx >= size))
        conn.execute(delete(tables.checkpoint).where(tables.checkpoint.c.tree_size > size))
        for (key,) in conn.execute(select(tables.node.c.key)).all():
            level, index = node_of_key(key)
            if (index + 1) << level > size:
                conn.execute(delete(tables.node).where(tables.node.c.key == key))
    rewrite_head(log, size)


def rewrite_head(log: AuditLog, size: int) -> None:
    """Set the head to the first `size` stored leaves (size and frontier), touching nothing else."""
    tables = log.tables
    with log.engine.begin() as conn:
        hashes = conn.execute(select(tables.leaf.c.leaf_hash).where(tables.leaf.c.idx < size)
                              .order_by(tables.leaf.c.idx)).scalars().all()
        frontier = Frontier()
        for digest in hashes:
            frontier.append(digest)
        conn.execute(update(tables.head).where(tables.head.c.id == HEAD_ROW_ID)
                     .values(tree_size=frontier.size, frontier=frontier.to_bytes()))


def rewrite_leaf(log: AuditLog, index: int, forged: bytes, *, rebuild: bool = False) -> None:
    """Replace leaf `index` (its hash column too); with `rebuild`, every derived hash as well."""
    leaf = log.tables.leaf
    with log.engine.begin() as conn:
        conn.execute(update(leaf).where(leaf.c.idx == index).values(leaf=forged, leaf_hash=leaf_hash(forged)))
    if rebuild:
        rebuild_derived(log)


def swap_leaves(log: AuditLog, first: int, second: int) -> None:
    """Exchange two leaf rows' contents (hash columns included): a reordering."""
    leaf = log.tables.leaf
    with log.engine.begin() as conn:
        a, b = (conn.execute(select(leaf.c.leaf, leaf.c.leaf_hash).where(leaf.c.idx == i)).one()
                for i in (first, second))
        conn.execute(update(leaf).where(leaf.c.idx == first).values(leaf=b.leaf, leaf_hash=b.leaf_hash))
        conn.execute(update(leaf).where(leaf.c.idx == second).values(leaf=a.leaf, leaf_hash=a.leaf_hash))


def delete_leaf(log: AuditLog, index: int) -> None:
    """Delete one row in the middle of the log."""
    leaf = log.tables.leaf
    with log.engine.begin() as conn:
        conn.execute(delete(leaf).where(leaf.c.idx == index))


def resign_head(log: AuditLog, signer: Ed25519Signer, *, now: datetime, unchanged_below: int | None = None) -> str:
    """Sign the stored head with the (stolen) log key and record it as the newest checkpoint, after dropping
    the stored checkpoints it does not extend: those larger than `unchanged_below` (the size up to which
    the history was left alone; default: those of the head's size or larger). No witness cosigns it."""
    head = log.tree_head()
    note = sign_checkpoint(Checkpoint(signer.name, head.size, head.root), signer)
    table = log.tables.checkpoint
    keep = head.size - 1 if unchanged_below is None else unchanged_below
    with log.engine.begin() as conn:
        conn.execute(delete(table).where(table.c.tree_size > keep))
        log.record_checkpoint(conn, head.size, note, now=now)
    return note


def fork(log: AuditLog, at: int, events: Sequence[AuditEvent], signer: Ed25519Signer, *, now: datetime) -> str:
    """Another history: truncate to `at`, append `events` in its place, re-sign the head."""
    truncate(log, at)
    with log.engine.begin() as conn:
        log.append_many(conn, list(events))
    return resign_head(log, signer, now=now)
