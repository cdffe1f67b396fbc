"""Tamper detection: recompute the log from its stored leaves and compare with a trusted checkpoint.

Edited, deleted, inserted or reordered leaf rows change the recomputed root (or leave a gap), so a
checkpoint the operator signed earlier (and witnesses cosigned) exposes them. The stored leaf-hash column,
the node table and the head row are derived data; they are checked too, so a forger who rewrites leaves
and their hashes consistently is still caught by the root, and a broken proof cache is caught before it
serves wrong proofs.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from consent.audit.checkpoint import Checkpoint
from consent.audit.errors import LogTamperedError
from consent.audit.log import AuditLog
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
            _verify(conn, log, checkpoint, check_nodes)


def _verify(conn: Connection, log: AuditLog, checkpoint: Checkpoint, check_nodes: bool) -> None:
    tables = log.tables
    size, packed = conn.execute(
        select(tables.head.c.tree_size, tables.head.c.frontier).where(tables.head.c.id == HEAD_ROW_ID)
    ).one()
    if size < checkpoint.size:
        raise LogTamperedError(f"log holds {size} leaves, the checkpoint commits to {checkpoint.size}", size)
    frontier = Frontier()
    computed: dict[NodeId, bytes] = {}
    leaf = tables.leaf
    expected_index = 0
    while expected_index < checkpoint.size:
        rows = conn.execute(
            select(leaf.c.idx, leaf.c.leaf, leaf.c.leaf_hash)
            .where(leaf.c.idx >= expected_index, leaf.c.idx < checkpoint.size)
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
        if check_nodes:
            _compare_nodes(conn, log, computed)
            computed.clear()
    if frontier.root() != checkpoint.root:
        raise LogTamperedError(
            f"leaves [0, {checkpoint.size}) hash to {frontier.root().hex()}, "
            f"the checkpoint says {checkpoint.root.hex()}"
        )
    if check_nodes and size == checkpoint.size and packed != frontier.to_bytes():
        raise LogTamperedError("the head row's frontier does not match the leaves")


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
