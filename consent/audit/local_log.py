"""A source node's own record of every use it answered, kept in its own database as its own Merkle log.

The source node writes the same `AuditEvent` it sends to the registry, in the same transaction as its own
state change (budget, replay cache), so the two records can be compared leaf for leaf by `cross_check`.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Connection, Engine

from consent.audit.events import AuditEvent
from consent.audit.log import AuditLog, LeafReceipt, StoredLeaf


class LocalUseLog:
    """The uses one source node answered, as an append-only log with its own tables (`local_use_*`)."""

    def __init__(self, engine: Engine, *, prefix: str = "local_use") -> None:
        self._log = AuditLog(engine, prefix=prefix)

    @property
    def log(self) -> AuditLog:
        """The underlying Merkle log (the node may checkpoint it too)."""
        return self._log

    def create_schema(self) -> None:
        self._log.create_schema()

    def record(self, conn: Connection, event: AuditEvent) -> LeafReceipt:
        """Record one answered use inside the caller's transaction."""
        if event.use_id is None:
            raise ValueError("a local use record needs a use_id to be cross-checked")
        return self._log.append(conn, event)

    def entries(self, start: int = 0) -> Iterator[StoredLeaf]:
        """Every recorded use from index `start`, oldest first."""
        return self._log.leaves(start)
