"""The log's tables (SQLAlchemy Core, portable between SQLite and PostgreSQL).

- `<prefix>_head`: one row; the tree size and the frontier (compact range) of the whole log. Every append
  updates it first, which takes the row lock (PostgreSQL) or the write lock (SQLite): appends serialise there.
- `<prefix>_leaf`: one row per leaf: index, leaf hash, the canonical JSON, and a few ids copied out of it
  for compliance queries (the copies are never trusted for verification; the leaf bytes are).
- `<prefix>_node`: perfect subtree hashes of level >= 1, written as leaves complete them (level 0 is the
  leaf hash column); proofs read O(log n) of these. One integer key per node (`node_key`) so a proof's
  nodes come back with a single indexed `IN` lookup.
- `<prefix>_checkpoint`: signed (and cosigned) checkpoints the log has published.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

HEAD_ROW_ID = 1
_PREFIX = re.compile(r"[a-z][a-z0-9_]{0,30}")


def node_key(level: int, index: int) -> int:
    """The node table's key of perfect node (level, index): index * 64 + level (fits a signed BIGINT)."""
    if not 0 < level < 64 or not 0 <= index < 2**56:
        raise ValueError(f"node ({level}, {index}) outside the storable range")
    return index * 64 + level


def node_of_key(key: int) -> tuple[int, int]:
    """Inverse of `node_key`: (level, index)."""
    return key % 64, key // 64


@dataclass(frozen=True)
class LogTables:
    """The four tables of one log, named after a prefix so several logs can share a database."""

    metadata: MetaData
    head: Table
    leaf: Table
    node: Table
    checkpoint: Table

    @property
    def all(self) -> list[Table]:
        return [self.head, self.leaf, self.node, self.checkpoint]


def log_tables(prefix: str = "audit", metadata: MetaData | None = None) -> LogTables:
    """Declare the tables of a log called `prefix` (lowercase identifier) on `metadata`."""
    if not _PREFIX.fullmatch(prefix):
        raise ValueError(f"table prefix must be a short lowercase identifier, got {prefix!r}")
    metadata = metadata if metadata is not None else MetaData()
    head = Table(
        f"{prefix}_head",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("tree_size", BigInteger, nullable=False),
        Column("frontier", LargeBinary, nullable=False),
    )
    leaf = Table(
        f"{prefix}_leaf",
        metadata,
        Column("idx", BigInteger, primary_key=True, autoincrement=False),
        Column("leaf_hash", LargeBinary(32), nullable=False),
        Column("kind", String(40), nullable=False),
        Column("occurred_at_ms", BigInteger, nullable=False),
        Column("authorisation_id", String(128)),
        Column("use_id", String(128)),
        Column("institution", String(128)),
        Column("source_unit", String(128)),
        Column("job_id", String(128)),
        Column("model_id", String(128)),
        Column("leaf", LargeBinary, nullable=False),
        # Each index costs a page write per commit (about 25 us on SQLite); these three serve the
        # cross-check (use), the use counters (authorisation) and period listings (time, append-ordered).
        Index(f"ix_{prefix}_leaf_use", "use_id"),
        Index(f"ix_{prefix}_leaf_auth", "authorisation_id"),
        Index(f"ix_{prefix}_leaf_time", "occurred_at_ms"),
    )
    node = Table(
        f"{prefix}_node",
        metadata,
        Column("key", BigInteger, primary_key=True, autoincrement=False),
        Column("hash", LargeBinary(32), nullable=False),
    )
    checkpoint = Table(
        f"{prefix}_checkpoint",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("tree_size", BigInteger, nullable=False),
        Column("note", Text, nullable=False),
        Column("recorded_at_ms", BigInteger, nullable=False),
        Index(f"ix_{prefix}_checkpoint_size", "tree_size"),
    )
    return LogTables(metadata, head, leaf, node, checkpoint)
