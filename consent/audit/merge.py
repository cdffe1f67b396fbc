"""Folding one audit log into another, with both histories kept checkable.

When two logs become one (the platform's API log into its consent registry's, whose checkpoints the witnesses
cosign), the continuing log keeps its own rows, indices and checkpoints untouched, so everything the witnesses,
banks and officers hold for it still proves consistent. The folded log is kept whole as an archive (its leaves,
nodes, head and checkpoints, under another table prefix), so receipts issued against its own checkpoints still
verify against the archive. Its leaves are then appended to the continuing log byte for byte, in order, and a
`log_merged` leaf commits the continuing log to the archive's final head (origin, size, root): from the next
cosigned checkpoint on, the witnesses vouch for the archive too. `verify_merges` checks all of it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BigInteger, Column, Connection, Integer, MetaData, String, Table, insert, select

from consent.audit.checkpoint import Checkpoint
from consent.audit.errors import LogTamperedError
from consent.audit.events import AuditEvent, EventKind
from consent.audit.log import AuditLog, LeafReceipt, TreeHead
from consent.audit.note import parse_note
from consent.audit.storage import READ_ONLY
from consent.canonical_json import canonical_json

merge_metadata = MetaData()

log_merges = Table(
    "audit_merges",
    merge_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("archive_prefix", String(32), nullable=False, unique=True),
    Column("origin", String(128), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("root", String(64), nullable=False),
    Column("first_index", BigInteger, nullable=False),
    Column("merge_leaf", BigInteger, nullable=False),
    Column("merged_at_ms", BigInteger, nullable=False),
)


@dataclass(frozen=True)
class MergedLog:
    """A log folded into this one: where its archive is, its final head, where its leaves now sit."""

    archive_prefix: str
    origin: str
    size: int
    root: bytes
    first_index: int
    merge_leaf: int


def head_digest(origin: str, head: TreeHead) -> str:
    """What the `log_merged` leaf commits to: the folded log's origin, size and root."""
    return hashlib.sha256(canonical_json({"origin": origin, "size": head.size, "root": head.root.hex()})).hexdigest()


def archive_origin(archive: AuditLog) -> str:
    """The origin of the archive's newest checkpoint (`unknown` for a log that never published one)."""
    note = archive.latest_checkpoint()
    return "unknown" if note is None else Checkpoint.from_body(parse_note(note).text).origin


def fold(conn: Connection, target: AuditLog, archive: AuditLog, *, actor: str, now: datetime) -> MergedLog:
    """Append the archive's leaves to `target` byte for byte, then the `log_merged` leaf, inside the caller's
    transaction, and record the merge. The archive must be complete (its rows verified by the caller)."""
    merge_metadata.create_all(conn, tables=[log_merges])
    head = archive.tree_head(conn)
    origin = archive_origin(archive)
    first = target.tree_size(conn)
    batch: list[AuditEvent] = []
    for leaf in archive.leaves(0, head.size, conn=conn):
        batch.append(AuditEvent.from_leaf(leaf.leaf))  # refuses anything but the canonical bytes of an event
        if len(batch) == 1000:
            _append(conn, target, batch)
            batch = []
    _append(conn, target, batch)
    receipt = target.append(conn, AuditEvent(
        kind=EventKind.LOG_MERGED, occurred_at=now, actor=actor, reason_code="LOG_MERGED",
        digests={"merged_head": head_digest(origin, head), "merged_root": head.root.hex()}))
    merged = MergedLog(archive.tables.head.name.removesuffix("_head"), origin, head.size, head.root, first,
                       receipt.index)
    conn.execute(insert(log_merges).values(
        archive_prefix=merged.archive_prefix, origin=origin, size=head.size, root=head.root.hex(),
        first_index=first, merge_leaf=receipt.index, merged_at_ms=int(now.timestamp() * 1000)))
    return merged


def _append(conn: Connection, target: AuditLog, events: Sequence[AuditEvent]) -> list[LeafReceipt]:
    return target.append_many(conn, events) if events else []


def merged_logs(target: AuditLog) -> list[MergedLog]:
    """The logs folded into `target` (none if it was never merged)."""
    with target.engine.connect().execution_options(**READ_ONLY) as conn:
        if not target.engine.dialect.has_table(conn, log_merges.name):
            return []
        rows = conn.execute(select(log_merges).order_by(log_merges.c.id)).all()
    return [MergedLog(r.archive_prefix, r.origin, r.size, bytes.fromhex(r.root), r.first_index, r.merge_leaf)
            for r in rows]


def verify_merges(target: AuditLog, *, checkpoints_of=None) -> list[MergedLog]:
    """Check every folded log: its archive's rows recompute to its recorded head (and to each of its own
    checkpoints, from `checkpoints_of(archive)` if given: verified `Checkpoint`s), the `log_merged` leaf of
    `target` commits to that head, and `target` holds the archive's leaves byte for byte where the merge put
    them. Raises `LogTamperedError`; returns what was checked."""
    from consent.audit.integrity import verify_log_rows

    merged = merged_logs(target)
    for merge in merged:
        archive = AuditLog(target.engine, prefix=merge.archive_prefix)
        own = list(checkpoints_of(archive)) if checkpoints_of is not None else []
        head = verify_log_rows(archive, own)
        if (head.size, head.root) != (merge.size, merge.root):
            raise LogTamperedError(f"the archive {merge.archive_prefix} no longer has the head it was merged with")
        try:
            event = AuditEvent.from_leaf(target.leaf(merge.merge_leaf).leaf)
        except IndexError:
            raise LogTamperedError("the log_merged leaf is missing", merge.merge_leaf) from None
        if event.kind is not EventKind.LOG_MERGED or event.digest_map.get("merged_head") != head_digest(merge.origin,
                                                                                                        head):
            raise LogTamperedError("the log_merged leaf does not commit to the archive's head", merge.merge_leaf)
        copies = target.leaves(merge.first_index, merge.first_index + merge.size)
        for original, copy in zip(archive.leaves(0, merge.size), copies, strict=True):
            if original.leaf != copy.leaf:
                raise LogTamperedError(f"leaf {copy.index} is not archived leaf {original.index}", copy.index)
    return merged
