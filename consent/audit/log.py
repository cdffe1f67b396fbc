"""The append-only audit log: leaves written inside the caller's transaction, proofs from stored nodes.

Usage: `with engine.begin() as conn: <state change>; log.append(conn, event)`. Both commit or neither does,
so no use is recorded without its leaf and no leaf exists without its use. Appends serialise on the head
row (first statement of `append`), so two writers can never take the same leaf index, and the leaf index
is also the table's primary key.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    LargeBinary,
    Select,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import SQLAlchemyError

from consent.audit.errors import LogTamperedError, SchemaMissingError
from consent.audit.events import AuditEvent, EventKind
from consent.audit.prepared import PreparedStatement
from consent.audit.schema import HEAD_ROW_ID, LogTables, log_tables, node_key
from consent.audit.storage import READ_ONLY
from consent.merkle import Frontier, NodeId, leaf_hash
from consent.merkle.proofs import consistency_proof, inclusion_proof, tree_root

_READ_BATCH = 5_000


@dataclass(frozen=True)
class LeafReceipt:
    """What `append` hands back: where the leaf sits and the root of the log right after it.

    The pair (tree_size, root) commits the log to this prefix: any later checkpoint must be provably
    consistent with it, so the leaf cannot silently disappear once the receipt is held by someone else.
    """

    index: int
    leaf: bytes
    leaf_hash: bytes
    tree_size: int
    root: bytes


@dataclass(frozen=True)
class TreeHead:
    """A tree size and its root hash (unsigned)."""

    size: int
    root: bytes


@dataclass(frozen=True)
class StoredLeaf:
    """A leaf as read back from the database."""

    index: int
    leaf: bytes
    leaf_hash: bytes

    @property
    def event(self) -> AuditEvent:
        return AuditEvent.from_leaf(self.leaf)


class _NodeStore:
    """`NodeReader` over one open connection: level 0 from the leaf table, higher levels from the node table."""

    def __init__(self, conn: Connection, select_nodes: Select[Any], select_leaves: Select[Any]) -> None:
        self._conn, self._select_nodes, self._select_leaves = conn, select_nodes, select_leaves

    def node_hashes(self, ids: Collection[NodeId]) -> Mapping[NodeId, bytes]:
        found: dict[NodeId, bytes] = {}
        leaves = [n.index for n in ids if n.level == 0]
        for offset in range(0, len(leaves), 500):
            rows = self._conn.execute(self._select_leaves, {"ids": leaves[offset : offset + 500]})
            found.update({NodeId(0, row.idx): row.leaf_hash for row in rows})
        higher = {node_key(n.level, n.index): n for n in ids if n.level > 0}
        keys = list(higher)
        for offset in range(0, len(keys), 500):
            rows = self._conn.execute(self._select_nodes, {"keys": keys[offset : offset + 500]})
            found.update({higher[row.key]: row.hash for row in rows})
        missing = set(ids).difference(found)
        if missing:
            first = min(missing)
            raise LogTamperedError(f"stored node {first} is missing", first.start)
        return found


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class AuditLog:
    """An RFC 9162 Merkle log of `AuditEvent`s stored with SQLAlchemy Core."""

    def __init__(self, engine: Engine, *, prefix: str = "audit", tables: LogTables | None = None) -> None:
        self._engine = engine
        self._tables = tables if tables is not None else log_tables(prefix)
        head = self._tables.head
        self._reserve = PreparedStatement(
            update(head)
            .where(head.c.id == HEAD_ROW_ID)
            .values(tree_size=head.c.tree_size + bindparam("count", type_=BigInteger))
            .returning(head.c.tree_size, head.c.frontier)
        )
        self._store_frontier = PreparedStatement(
            update(head).where(head.c.id == HEAD_ROW_ID).values(frontier=bindparam("packed", type_=LargeBinary))
        )
        self._insert_leaf = PreparedStatement(insert(self._tables.leaf))
        self._insert_node = PreparedStatement(insert(self._tables.node))
        node, leaf = self._tables.node, self._tables.leaf
        # Proof reads: one indexed IN lookup per table, statements built once and cached by SQLAlchemy.
        self._select_nodes = select(node.c.key, node.c.hash).where(node.c.key.in_(bindparam("keys", expanding=True)))
        self._select_leaves = select(leaf.c.idx, leaf.c.leaf_hash).where(
            leaf.c.idx.in_(bindparam("ids", expanding=True))
        )

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def tables(self) -> LogTables:
        return self._tables

    def create_schema(self) -> None:
        """Create the tables and the head row if they do not exist (idempotent)."""
        self._tables.metadata.create_all(self._engine, tables=self._tables.all)
        head = self._tables.head
        with self._engine.begin() as conn:
            if conn.execute(select(head.c.id).where(head.c.id == HEAD_ROW_ID)).first() is None:
                conn.execute(insert(head).values(id=HEAD_ROW_ID, tree_size=0, frontier=b""))

    # -- writing ---------------------------------------------------------------------------------------

    def append(self, conn: Connection, event: AuditEvent) -> LeafReceipt:
        """Append one leaf inside the caller's open transaction `conn`; it commits with the caller's change."""
        return self.append_many(conn, [event])[0]

    def append_many(self, conn: Connection, events: Sequence[AuditEvent]) -> list[LeafReceipt]:
        """Append several leaves, in order, inside the caller's transaction (one head update for all)."""
        if not events:
            return []
        # First statement: take the append lock (PostgreSQL row lock / SQLite write lock) and reserve indices.
        row = self._reserve.execute(conn, {"count": len(events)}).first()
        if row is None:
            raise SchemaMissingError(f"no head row in {self._tables.head.name}: call create_schema()")
        first = row.tree_size - len(events)
        frontier = Frontier.from_bytes(first, row.frontier)
        leaf_rows, node_rows, receipts = [], [], []
        for offset, event in enumerate(events):
            leaf = event.to_leaf()
            digest = leaf_hash(leaf)
            for node, value in frontier.append(digest):
                node_rows.append({"key": node_key(node.level, node.index), "hash": value})
            index = first + offset
            leaf_rows.append(
                {
                    "idx": index,
                    "leaf_hash": digest,
                    "kind": event.kind.value,
                    "occurred_at_ms": _epoch_ms(event.occurred_at),
                    "authorisation_id": event.authorisation_id,
                    "use_id": event.use_id,
                    "institution": event.institution,
                    "source_unit": event.source_unit,
                    "job_id": event.job_id,
                    "model_id": event.model_id,
                    "leaf": leaf,
                }
            )
            receipts.append(LeafReceipt(index, leaf, digest, index + 1, frontier.root()))
        if len(leaf_rows) == 1:
            self._insert_leaf.execute(conn, leaf_rows[0])
        else:
            self._insert_leaf.execute_many(conn, leaf_rows)
        if node_rows:
            self._insert_node.execute_many(conn, node_rows)
        self._store_frontier.execute(conn, {"packed": frontier.to_bytes()})
        return receipts

    # -- reading ---------------------------------------------------------------------------------------

    def _node_store(self, conn: Connection) -> _NodeStore:
        return _NodeStore(conn, self._select_nodes, self._select_leaves)

    @contextmanager
    def _reading(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is not None:
            yield conn
            return
        with self._engine.connect() as own:
            own = own.execution_options(**READ_ONLY)
            with own.begin():
                yield own

    def _head(self, conn: Connection) -> tuple[int, bytes]:
        head = self._tables.head
        try:
            row = conn.execute(select(head.c.tree_size, head.c.frontier).where(head.c.id == HEAD_ROW_ID)).first()
        except SQLAlchemyError as error:
            raise SchemaMissingError(f"cannot read {head.name}: {error.__class__.__name__}") from error
        if row is None:
            raise SchemaMissingError(f"no head row in {head.name}: call create_schema()")
        return row.tree_size, row.frontier

    def _check_size(self, conn: Connection, size: int) -> int:
        current, _ = self._head(conn)
        if not 0 <= size <= current:
            raise ValueError(f"tree size {size} outside [0, {current}]")
        return current

    def tree_head(self, conn: Connection | None = None) -> TreeHead:
        """The current size and root, from the stored frontier (no node reads)."""
        with self._reading(conn) as c:
            size, packed = self._head(c)
        return TreeHead(size, Frontier.from_bytes(size, packed).root())

    def tree_size(self, conn: Connection | None = None) -> int:
        with self._reading(conn) as c:
            return self._head(c)[0]

    def root(self, tree_size: int, conn: Connection | None = None) -> bytes:
        """Root of the first `tree_size` leaves (any past size), from at most 64 stored nodes."""
        with self._reading(conn) as c:
            self._check_size(c, tree_size)
            return tree_root(tree_size, self._node_store(c))

    def inclusion_proof(self, index: int, tree_size: int, conn: Connection | None = None) -> list[bytes]:
        """Audit path of leaf `index` in the tree of `tree_size` leaves. Requires index < tree_size <= size."""
        with self._reading(conn) as c:
            self._check_size(c, tree_size)
            return inclusion_proof(index, tree_size, self._node_store(c))

    def consistency_proof(self, old_size: int, new_size: int, conn: Connection | None = None) -> list[bytes]:
        """Proof that the tree of `old_size` leaves is a prefix of the tree of `new_size` leaves."""
        with self._reading(conn) as c:
            self._check_size(c, new_size)
            return consistency_proof(old_size, new_size, self._node_store(c))

    def leaf(self, index: int, conn: Connection | None = None) -> StoredLeaf:
        """The stored leaf at `index` (IndexError when absent)."""
        table = self._tables.leaf
        with self._reading(conn) as c:
            row = c.execute(
                select(table.c.idx, table.c.leaf, table.c.leaf_hash).where(table.c.idx == index)
            ).first()
        if row is None:
            raise IndexError(f"no leaf {index}")
        return StoredLeaf(row.idx, row.leaf, row.leaf_hash)

    def leaves(self, start: int = 0, end: int | None = None, conn: Connection | None = None) -> Iterator[StoredLeaf]:
        """Stored leaves with start <= index < end in index order, read in batches (one read snapshot)."""
        table = self._tables.leaf
        with self._reading(conn) as c:
            cursor = start
            while end is None or cursor < end:
                query = select(table.c.idx, table.c.leaf, table.c.leaf_hash).where(table.c.idx >= cursor)
                if end is not None:
                    query = query.where(table.c.idx < end)
                rows = c.execute(query.order_by(table.c.idx).limit(_READ_BATCH)).all()
                if not rows:
                    return
                for row in rows:
                    yield StoredLeaf(row.idx, row.leaf, row.leaf_hash)
                cursor = rows[-1].idx + 1

    def find(
        self,
        *,
        kinds: Collection[EventKind] = (),
        authorisation_id: str | None = None,
        use_id: str | None = None,
        institution: str | None = None,
        source_unit: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        conn: Connection | None = None,
    ) -> list[StoredLeaf]:
        """Leaves matching every given filter (period is [since, until)), in index order, for compliance views."""
        table = self._tables.leaf
        query = select(table.c.idx, table.c.leaf, table.c.leaf_hash)
        if kinds:
            query = query.where(table.c.kind.in_([EventKind(k).value for k in kinds]))
        for column, value in (
            (table.c.authorisation_id, authorisation_id),
            (table.c.use_id, use_id),
            (table.c.institution, institution),
            (table.c.source_unit, source_unit),
        ):
            if value is not None:
                query = query.where(column == value)
        if since is not None:
            query = query.where(table.c.occurred_at_ms >= _epoch_ms(since))
        if until is not None:
            query = query.where(table.c.occurred_at_ms < _epoch_ms(until))
        query = query.order_by(table.c.idx)
        if limit is not None:
            query = query.limit(limit)
        with self._reading(conn) as c:
            return [StoredLeaf(row.idx, row.leaf, row.leaf_hash) for row in c.execute(query)]

    def leaves_for_uses(self, use_ids: Collection[str], conn: Connection | None = None) -> list[StoredLeaf]:
        """Every leaf whose use_id is in `use_ids` (one query per 500 ids), in index order."""
        table = self._tables.leaf
        wanted = sorted(set(use_ids))
        found: list[StoredLeaf] = []
        with self._reading(conn) as c:
            for offset in range(0, len(wanted), 500):
                query = select(table.c.idx, table.c.leaf, table.c.leaf_hash).where(
                    table.c.use_id.in_(wanted[offset : offset + 500])
                )
                found.extend(StoredLeaf(row.idx, row.leaf, row.leaf_hash) for row in c.execute(query))
        return sorted(found, key=lambda leaf: leaf.index)

    def count(
        self, *, kinds: Collection[EventKind] = (), authorisation_id: str | None = None,
        conn: Connection | None = None,
    ) -> int:
        """Number of leaves of these kinds for an authorisation (e.g. to compare with a use counter)."""
        table = self._tables.leaf
        query = select(func.count()).select_from(table)
        if kinds:
            query = query.where(table.c.kind.in_([EventKind(k).value for k in kinds]))
        if authorisation_id is not None:
            query = query.where(table.c.authorisation_id == authorisation_id)
        with self._reading(conn) as c:
            return int(c.execute(query).scalar_one())

    # -- checkpoints -----------------------------------------------------------------------------------

    def record_checkpoint(self, conn: Connection, tree_size: int, note: str, *, now: datetime) -> None:
        """Keep a published (cosigned) checkpoint note so it can be served and later audited."""
        conn.execute(
            insert(self._tables.checkpoint).values(tree_size=tree_size, note=note, recorded_at_ms=_epoch_ms(now))
        )

    def latest_checkpoint(self, conn: Connection | None = None) -> str | None:
        """The most recently recorded checkpoint note, or None."""
        table = self._tables.checkpoint
        with self._reading(conn) as c:
            row = c.execute(select(table.c.note).order_by(table.c.id.desc()).limit(1)).first()
        return None if row is None else row.note

    def checkpoints(self, conn: Connection | None = None) -> list[str]:
        """Every recorded checkpoint note, oldest first (a chain a compliance officer can verify)."""
        table = self._tables.checkpoint
        with self._reading(conn) as c:
            return [row.note for row in c.execute(select(table.c.note).order_by(table.c.id))]
