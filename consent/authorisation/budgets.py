"""Use counters kept by the source node: total uses per artefact and predicate checks per field.

Both are spent inside the gate's transaction together with the audit leaf, by conditional updates
(`... WHERE uses < limit`), so a counter can never pass its limit and never moves without its leaf.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, and_, insert, select, update

from consent.authorisation.errors import AuthorisationRefused, RefusalReason
from consent.authorisation.schema import field_counters, use_counters


class BudgetLedger:
    """Counters at one source node. `max_uses` is per provider: each node bounds its own answers."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def spend_use(self, conn: Connection, *, authorisation_id: str, max_uses: int) -> int:
        """Count one use; returns its 1-based number. Raises `AuthorisationRefused(BUDGET_EXHAUSTED)`."""
        # The UPDATE comes first so that SQLite takes its write lock before anything is read.
        done = conn.execute(
            update(use_counters)
            .where(and_(use_counters.c.authorisation_id == authorisation_id, use_counters.c.uses < max_uses))
            .values(uses=use_counters.c.uses + 1)
        )
        if done.rowcount == 1:
            return conn.execute(
                select(use_counters.c.uses).where(use_counters.c.authorisation_id == authorisation_id)
            ).scalar_one()
        exists = conn.execute(
            select(use_counters.c.uses).where(use_counters.c.authorisation_id == authorisation_id)
        ).scalar_one_or_none()
        if exists is not None or max_uses < 1:
            raise AuthorisationRefused(RefusalReason.BUDGET_EXHAUSTED, f"{exists} of {max_uses} uses spent")
        conn.execute(insert(use_counters).values(authorisation_id=authorisation_id, uses=1))
        return 1

    def spend_field(self, conn: Connection, *, authorisation_id: str, field: str, limit: int) -> int:
        """Count one check on `field`; returns how many are now spent. Raises
        `AuthorisationRefused(FIELD_BUDGET_EXHAUSTED)` once `limit` checks were answered."""
        match = and_(field_counters.c.authorisation_id == authorisation_id, field_counters.c.field == field)
        done = conn.execute(
            update(field_counters).where(and_(match, field_counters.c.spent < limit)).values(
                spent=field_counters.c.spent + 1
            )
        )
        if done.rowcount == 1:
            return conn.execute(select(field_counters.c.spent).where(match)).scalar_one()
        exists = conn.execute(select(field_counters.c.spent).where(match)).scalar_one_or_none()
        if exists is not None or limit < 1:
            raise AuthorisationRefused(
                RefusalReason.FIELD_BUDGET_EXHAUSTED, f"{field}: {exists} of {limit} checks spent"
            )
        conn.execute(insert(field_counters).values(authorisation_id=authorisation_id, field=field, spent=1))
        return 1

    def uses(self, authorisation_id: str) -> int:
        """Uses answered so far under this artefact at this node."""
        with self._engine.connect() as conn:
            value = conn.execute(
                select(use_counters.c.uses).where(use_counters.c.authorisation_id == authorisation_id)
            ).scalar_one_or_none()
        return value or 0

    def field_spent(self, authorisation_id: str, field: str) -> int:
        """Checks answered so far on `field` under this artefact at this node."""
        with self._engine.connect() as conn:
            value = conn.execute(
                select(field_counters.c.spent).where(
                    and_(field_counters.c.authorisation_id == authorisation_id, field_counters.c.field == field)
                )
            ).scalar_one_or_none()
        return value or 0
