"""Every use row has its audit leaf and every served-score leaf has its use row: the invariant a failed write
(a full disk) must not break. Counted by the resilience checks and tests."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, and_, func, select

from consent.audit.events import EventKind
from consent.audit.schema import log_tables
from platform_node.uses.schema import uses


@dataclass(frozen=True)
class Unpaired:
    """Uses whose leaf is missing (or names another use) and `SCORE_SERVED` leaves whose use is missing."""

    uses_without_leaf: int
    leaves_without_use: int


def unpaired(engine: Engine, prefix: str = "audit") -> Unpaired:
    """Count both kinds of orphan in the platform API's database (read only)."""
    leaf = log_tables(prefix).leaf
    with engine.connect() as conn:
        without_leaf = conn.execute(
            select(func.count()).select_from(uses.outerjoin(leaf, and_(leaf.c.idx == uses.c.audit_index,
                                                                       leaf.c.use_id == uses.c.id)))
            .where(leaf.c.idx.is_(None))).scalar_one()
        without_use = conn.execute(
            select(func.count()).select_from(leaf.outerjoin(uses, uses.c.id == leaf.c.use_id))
            .where(and_(leaf.c.kind == EventKind.SCORE_SERVED.value, uses.c.id.is_(None)))).scalar_one()
    return Unpaired(int(without_leaf), int(without_use))
