"""Governance events waiting for, and appended to, the platform's one audit log.

The coordinator records each governance event (an approval filed or its status changed, a catalogue version,
an expansion request filed or decided, a usage line) in the transaction of its own change, as the canonical
leaf bytes of an `AuditEvent` numbered by a gap-free sequence (1, 2, 3, ...). A forwarder sends the events in
that order to the platform, which appends each as a leaf of its one log and answers with the leaf's index
and the log's size and root right after it (the receipt, kept here). The platform refuses a number that
skips one, so an event is never lost between the two databases without a refusal saying so. No gRPC here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    func,
    insert,
    select,
    update,
)

from consent.audit.events import AuditEvent

outbox_metadata = MetaData()

# One row: the number the next event gets (its UPDATE is the writers' lock, as the audit log's head is).
outbox_head = Table(
    "gov_outbox_head", outbox_metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("next_seq", BigInteger, nullable=False),
)

outbox_events = Table(
    "gov_outbox", outbox_metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("leaf", LargeBinary, nullable=False),
    Column("recorded_at_ms", BigInteger, nullable=False),
    # The receipt of the platform's log, once forwarded: the leaf's index, the log's size and root after it.
    Column("leaf_index", BigInteger, nullable=True, unique=True),
    Column("tree_size", BigInteger, nullable=True),
    Column("root", String(64), nullable=True),
)

_HEAD = 1


@dataclass(frozen=True)
class OutboxEntry:
    """A recorded event: its number, its leaf bytes, and the platform's receipt once forwarded."""

    seq: int
    leaf: bytes
    leaf_index: int | None = None
    tree_size: int | None = None
    root: bytes | None = None


@dataclass(frozen=True)
class ForwardReceipt:
    """What the platform answered for one forwarded event."""

    seq: int
    leaf_index: int
    tree_size: int
    root: bytes


class GovernanceOutbox:
    """The coordinator's record of governance events and of where each landed in the platform's log."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def engine(self) -> Engine:
        return self._engine

    def create_schema(self) -> None:
        outbox_metadata.create_all(self._engine)
        with self._engine.begin() as conn:
            if conn.execute(select(outbox_head.c.id)).first() is None:
                conn.execute(insert(outbox_head).values(id=_HEAD, next_seq=1))

    def append(self, conn: Connection, event: AuditEvent) -> OutboxEntry:
        """Record `event` inside the caller's transaction (it commits, or vanishes, with the caller's change)."""
        seq = conn.execute(update(outbox_head).where(outbox_head.c.id == _HEAD)
                           .values(next_seq=outbox_head.c.next_seq + 1).returning(outbox_head.c.next_seq)
                           ).scalar_one() - 1
        leaf = event.to_leaf()
        conn.execute(insert(outbox_events).values(seq=seq, leaf=leaf,
                                                  recorded_at_ms=int(event.occurred_at.timestamp() * 1000)))
        return OutboxEntry(seq, leaf)

    def pending(self, *, limit: int = 500) -> list[OutboxEntry]:
        """The oldest events not yet forwarded, in order."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(outbox_events.c.seq, outbox_events.c.leaf)
                                .where(outbox_events.c.leaf_index.is_(None))
                                .order_by(outbox_events.c.seq).limit(limit)).all()
        return [OutboxEntry(int(r.seq), bytes(r.leaf)) for r in rows]

    def forwarded(self, receipts: Sequence[ForwardReceipt]) -> None:
        """Keep the platform's receipts."""
        if not receipts:
            return
        statement = update(outbox_events).where(outbox_events.c.seq == bindparam("s")).values(
            leaf_index=bindparam("i"), tree_size=bindparam("n"), root=bindparam("r"))
        with self._engine.begin() as conn:
            conn.execute(statement, [{"s": r.seq, "i": r.leaf_index, "n": r.tree_size, "r": r.root.hex()}
                                     for r in receipts])

    def get(self, seq: int) -> OutboxEntry | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(outbox_events).where(outbox_events.c.seq == seq)).first()
        return None if row is None else _entry(row)

    def entries(self, seqs: Sequence[int]) -> dict[int, OutboxEntry]:
        """The entries of `seqs` that exist, by number."""
        if not seqs:
            return {}
        with self._engine.connect() as conn:
            rows = conn.execute(select(outbox_events).where(outbox_events.c.seq.in_(list(seqs)))).all()
        return {int(r.seq): _entry(r) for r in rows}

    def counts(self) -> tuple[int, int]:
        """(events recorded, events still to forward)."""
        with self._engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(outbox_events)).scalar_one()
            waiting = conn.execute(select(func.count()).select_from(outbox_events)
                                   .where(outbox_events.c.leaf_index.is_(None))).scalar_one()
        return int(total), int(waiting)

    def adopt(self, conn: Connection, leaves: Sequence[bytes], *, first_index: int, now: datetime) -> None:
        """Record events that are already leaves of the platform's log at `first_index`, `first_index + 1`, ...
        (a governance log merged into it, in its order), as numbers 1, 2, ...; the outbox must be empty."""
        if conn.execute(select(outbox_events.c.seq).limit(1)).first() is not None:
            raise ValueError("the outbox already holds events")
        ms = int(now.timestamp() * 1000)
        rows = [{"seq": offset + 1, "leaf": leaf, "recorded_at_ms": ms, "leaf_index": first_index + offset}
                for offset, leaf in enumerate(leaves)]
        for start in range(0, len(rows), 500):
            conn.execute(insert(outbox_events), rows[start:start + 500])
        conn.execute(update(outbox_head).where(outbox_head.c.id == _HEAD).values(next_seq=len(rows) + 1))


def _entry(row) -> OutboxEntry:
    return OutboxEntry(int(row.seq), bytes(row.leaf), None if row.leaf_index is None else int(row.leaf_index),
                       None if row.tree_size is None else int(row.tree_size),
                       None if row.root is None else bytes.fromhex(row.root))
