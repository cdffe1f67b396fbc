"""Tamper detection: recompute the log from its stored leaves and compare with a trusted checkpoint.

Edited, deleted, inserted or reordered leaf rows change the recomputed root (or leave a gap), so a
checkpoint the operator signed earlier (and witnesses cosigned) exposes them. The stored leaf-hash column,
the node table and the head row are derived data; they are checked too, so a forger who rewrites leaves
and their hashes consistently is still caught by the root, and a broken proof cache is caught before it
serves wrong proofs.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, select

from consent.audit.checkpoint import Checkpoint
from consent.audit.errors import LogTamperedError
from consent.audit.log import AuditLog, TreeHead
from consent.audit.schema import HEAD_ROW_ID, node_key
from consent.audit.storage import READ_ONLY
from consent.merkle import Frontier, NodeId, leaf_hash

_BATCH = 5_000


def verify_log_against_checkpoint(log: AuditLog, checkpoint: Checkpoint, *, check_nodes: bool = True) -> None:
    """Raise LogTamperedError unless the stored leaves [0, checkpoint.size) hash to checkpoint.root.

    `checkpoint` must come from `verify_checkpoint` (signature checked); its size may be below the current
    tree size (older checkpoints stay verifiable forever). With `check_nodes`, every stored perfect node
    below the checkpoint and the head's frontier (when the checkpoint is the current head) are compared too.
    """
    with log.engine.connect() as conn:
        conn = conn.execution_options(**READ_ONLY)
        with conn.begin():
            _verify(conn, log, checkpoint.size, [checkpoint], check_nodes)


def verify_log_rows(log: AuditLog, checkpoints: Sequence[Checkpoint] = (), *, check_nodes: bool = True) -> TreeHead:
    """Recompute the whole stored log once and return its head, raising LogTamperedError if a leaf row, a
    stored node or the head's frontier disagrees with the leaves, if leaf rows exist beyond the head, or if
    the leaves do not hash to the root of one of `checkpoints` (the log's own signed checkpoints) at its
    size. Checkpoints larger than the stored log are not judged here: that is truncation, which the caller
    reports as such. One read transaction, so appends meanwhile do not disturb it."""
    with log.engine.connect() as conn:
        conn = conn.execution_options(**READ_ONLY)
        with conn.begin():
            size, packed = _head_row(conn, log)
            try:
                head = TreeHead(size, Frontier.from_bytes(size, packed).root())
            except ValueError as error:
                raise LogTamperedError(f"the head row is malformed: {error}") from None
            within = [c for c in checkpoints if c.size <= size]
            # The head's root is derived from its frontier, so comparing the frontier covers it.
            _verify(conn, log, size, within, check_nodes, check_frontier=True)
    return head


def _head_row(conn: Connection, log: AuditLog) -> tuple[int, bytes]:
    tables = log.tables
    size, packed = conn.execute(
        select(tables.head.c.tree_size, tables.head.c.frontier).where(tables.head.c.id == HEAD_ROW_ID)
    ).one()
    return size, packed


def _verify(conn: Connection, log: AuditLog, upto: int, checkpoints: Sequence[Checkpoint], check_nodes: bool, *,
            check_frontier: bool = False) -> None:
    """Recompute leaves [0, upto) and compare the root at every checkpoint's size (all <= upto)."""
    tables = log.tables
    size, packed = _head_row(conn, log)
    if size < upto:
        raise LogTamperedError(f"log holds {size} leaves, the checkpoint commits to {upto}", size)
    expected: dict[int, list[bytes]] = {}
    for checkpoint in checkpoints:
        expected.setdefault(checkpoint.size, []).append(checkpoint.root)
    frontier = Frontier()
    computed: dict[NodeId, bytes] = {}
    leaf = tables.leaf
    expected_index = 0
    _compare_roots(frontier, expected.get(0, ()))
    while expected_index < upto:
        rows = conn.execute(
            select(leaf.c.idx, leaf.c.leaf, leaf.c.leaf_hash)
            .where(leaf.c.idx >= expected_index, leaf.c.idx < upto)
            .order_by(leaf.c.idx)
            .limit(_BATCH)
        ).all()
        if not rows:
            raise LogTamperedError("leaf rows are missing at the end of the log", expected_index)
        for row in rows:
            if row.idx != expected_index:
                raise LogTamperedError(f"leaf {expected_index} is missing (next stored row is {row.idx})",
                                       expected_index)
            digest = leaf_hash(row.leaf)
            if digest != row.leaf_hash:
                raise LogTamperedError("stored leaf hash does not match the stored leaf", row.idx)
            for node, value in frontier.append(digest):
                if check_nodes:
                    computed[node] = value
            expected_index += 1
            if expected_index in expected:
                if check_nodes:  # a wrong stored node below this size is the more precise report
                    _compare_nodes(conn, log, computed)
                    computed.clear()
                _compare_roots(frontier, expected[expected_index])
        if check_nodes:
            _compare_nodes(conn, log, computed)
            computed.clear()
    if (check_nodes or check_frontier) and size == upto and packed != frontier.to_bytes():
        raise LogTamperedError("the head row's frontier does not match the leaves")
    if check_frontier:  # rows the head does not count are in no checkpoint, yet listings would show them
        beyond = conn.execute(select(leaf.c.idx).where(leaf.c.idx >= size).order_by(leaf.c.idx).limit(1)).first()
        if beyond is not None:
            raise LogTamperedError(f"leaf rows exist beyond the head's {size} leaves", beyond.idx)


def _compare_roots(frontier: Frontier, roots: Sequence[bytes]) -> None:
    for root in roots:
        if frontier.root() != root:
            raise LogTamperedError(
                f"leaves [0, {frontier.size}) hash to {frontier.root().hex()}, the checkpoint says {root.hex()}"
            )


def _compare_nodes(conn: Connection, log: AuditLog, computed: dict[NodeId, bytes]) -> None:
    """Compare one batch of recomputed perfect nodes with the stored ones (indexed key lookups)."""
    node = log.tables.node
    keys = {node_key(n.level, n.index): n for n in computed}
    ordered = sorted(keys)
    stored: dict[NodeId, bytes] = {}
    for offset in range(0, len(ordered), 500):
        rows = conn.execute(select(node.c.key, node.c.hash).where(node.c.key.in_(ordered[offset : offset + 500])))
        stored.update({keys[row.key]: row.hash for row in rows})
    for node_id in sorted(computed, key=lambda n: (n.start, -n.level)):
        if stored.get(node_id) != computed[node_id]:
            raise LogTamperedError(f"stored node {node_id} does not match the leaves", node_id.start)
