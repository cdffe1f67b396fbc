"""Governance events from the coordinator, appended as leaves of the platform's one log.

The coordinator numbers its events 1, 2, ... (its outbox) and sends them in order; each becomes a leaf, in one
transaction with the row that remembers which number landed where. A number sent again with the same leaf gets
the same receipt (the coordinator may not have seen the first answer); with another leaf, or a number that
skips one, the batch is refused: the coordinator cannot lose, change or reorder an event it already sent
without a refusal. Only governance kinds are taken, and the coordinator gets proofs only for its own leaves.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import BigInteger, Column, Engine, LargeBinary, MetaData, String, Table, func, insert, select

from consent.audit import AuditEvent, AuditLog, EventKind, EventRejected
from consent.audit.storage import READ_ONLY
from consent.governance.outbox import ForwardReceipt
from errors import Conflict, InvalidInput, Refused

log = logging.getLogger("xyd.platform.governance_log")

# What the coordinator may append: the data-governance kinds of docs/protocols/governance.md.
GOVERNANCE_KINDS = frozenset({
    EventKind.APPROVAL_FILED, EventKind.APPROVAL_STATUS_CHANGED, EventKind.CATALOGUE_PUBLISHED,
    EventKind.EXPANSION_FILED, EventKind.EXPANSION_DECIDED, EventKind.TASK_RUN, EventKind.USAGE_REPORTED,
})

intake_metadata = MetaData()
governance_leaves = Table(
    "governance_leaves", intake_metadata,
    Column("sender", String(128), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("leaf_index", BigInteger, nullable=False, unique=True),
    Column("leaf", LargeBinary, nullable=False),
)


@dataclass(frozen=True)
class IntakeItem:
    seq: int
    leaf: bytes


class GovernanceIntake:
    """Appends the coordinator's events to `log` (the one log) and remembers where each went."""

    def __init__(self, log_: AuditLog) -> None:
        self._log = log_

    @property
    def engine(self) -> Engine:
        return self._log.engine

    def create_schema(self) -> None:
        intake_metadata.create_all(self._log.engine)

    def append(self, sender: str, items: Sequence[IntakeItem]) -> list[ForwardReceipt]:
        """Append `items` in order (numbers already appended give their receipt again); raises `InvalidInput`
        for a leaf that is not a governance event, `Conflict` for a gap or a number reused with another leaf."""
        events = []
        for item in items:
            try:
                event = AuditEvent.from_leaf(item.leaf)
            except EventRejected as exc:
                raise InvalidInput(f"event {item.seq} is not a canonical audit event: {exc}") from None
            if event.kind not in GOVERNANCE_KINDS:
                raise Refused(f"event {item.seq} is a {event.kind.value} leaf, not a governance event")
            events.append(event)
        receipts: list[ForwardReceipt] = []
        with self._log.engine.begin() as conn:
            last = conn.execute(select(func.max(governance_leaves.c.seq))
                                .where(governance_leaves.c.sender == sender)).scalar()
            last = int(last or 0)
            fresh: list[tuple[IntakeItem, AuditEvent]] = []
            for item, event in zip(items, events, strict=True):
                if item.seq <= last:
                    receipts.append(self._again(conn, sender, item))
                elif item.seq != last + 1 + len(fresh):
                    raise Conflict(f"governance event {item.seq} skips {last + 1 + len(fresh)}: events arrive in "
                                   f"order, without a gap")
                else:
                    fresh.append((item, event))
            appended = self._log.append_many(conn, [event for _, event in fresh])
            for (item, _), receipt in zip(fresh, appended, strict=True):
                if receipt.leaf != item.leaf:  # from_leaf accepts only canonical bytes: cannot happen
                    raise InvalidInput(f"event {item.seq} does not re-encode to the bytes sent")
                conn.execute(insert(governance_leaves).values(sender=sender, seq=item.seq, leaf_index=receipt.index,
                                                              leaf=item.leaf))
                receipts.append(ForwardReceipt(item.seq, receipt.index, receipt.tree_size, receipt.root))
        if fresh:
            log.info("governance events appended", extra={"sender": sender, "count": len(fresh),
                                                          "last_seq": fresh[-1][0].seq})
        return sorted(receipts, key=lambda r: r.seq)

    def _again(self, conn, sender: str, item: IntakeItem) -> ForwardReceipt:
        row = conn.execute(select(governance_leaves.c.leaf_index, governance_leaves.c.leaf).where(
            governance_leaves.c.sender == sender, governance_leaves.c.seq == item.seq)).first()
        if row is None or bytes(row.leaf) != item.leaf:
            raise Conflict(f"governance event {item.seq} was appended with other content")
        index = int(row.leaf_index)
        return ForwardReceipt(item.seq, index, index + 1, self._log.root(index + 1, conn))

    def senders_leaves(self, sender: str, indexes: Sequence[int]) -> set[int]:
        """Which of `indexes` are leaves `sender` appended."""
        if not indexes:
            return set()
        with self._log.engine.connect().execution_options(**READ_ONLY) as conn:
            rows = conn.execute(select(governance_leaves.c.leaf_index).where(
                governance_leaves.c.sender == sender, governance_leaves.c.leaf_index.in_(list(indexes)))).all()
        return {int(r.leaf_index) for r in rows}

    def adopt(self, conn, sender: str, leaves: Sequence[bytes], *, first_index: int) -> None:
        """Remember leaves already in the log at `first_index`, ... as `sender`'s events 1, 2, ... (a
        governance log merged in), inside the merge's transaction."""
        rows = [{"sender": sender, "seq": offset + 1, "leaf_index": first_index + offset, "leaf": leaf}
                for offset, leaf in enumerate(leaves)]
        for start in range(0, len(rows), 500):
            conn.execute(insert(governance_leaves), rows[start:start + 500])
