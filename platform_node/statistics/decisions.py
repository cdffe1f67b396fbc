"""The reported lending decisions the financing figures are computed from, read with the filters applied.

Period and bank filter in SQL (decisions are indexed by time); district and industry come from the enterprise
directory, so they filter the rows read.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Engine, and_, select

from consent.audit.storage import READ_ONLY
from consent.authorisation.schema import from_epoch, to_epoch
from platform_node.statistics.directory import EnterpriseDirectory
from platform_node.statistics.financing import DecisionRow
from platform_node.uses.feedback import Decision
from platform_node.uses.schema import uses


def decision_rows(
    engine: Engine,
    directory: EnterpriseDirectory,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    institution_id: str | None = None,
    district: str | None = None,
    industry: str | None = None,
) -> list[DecisionRow]:
    """Every decision reported within [since, until) (by decision time), of one bank or all."""
    columns = (uses.c.id, uses.c.institution_id, uses.c.credit_code, uses.c.created_at, uses.c.decided_at,
               uses.c.decision, uses.c.amount_fen, uses.c.annual_rate, uses.c.first_loan, uses.c.secured)
    conditions = [uses.c.decision.is_not(None), uses.c.decided_at.is_not(None)]
    if since is not None:
        conditions.append(uses.c.decided_at >= to_epoch(since))
    if until is not None:
        conditions.append(uses.c.decided_at < to_epoch(until))
    if institution_id is not None:
        conditions.append(uses.c.institution_id == institution_id)
    query = select(*columns).where(and_(*conditions)).order_by(uses.c.decided_at, uses.c.id)
    rows = []
    with engine.connect().execution_options(**READ_ONLY) as conn:
        for r in conn.execute(query):
            place = directory.place(r.credit_code)
            if (district is not None and place[0] != district) or (industry is not None and place[1] != industry):
                continue
            rows.append(DecisionRow(
                use_id=r.id, institution_id=r.institution_id, credit_code=r.credit_code, district=place[0],
                industry=place[1], requested_at=from_epoch(r.created_at), decided_at=from_epoch(r.decided_at),
                granted=r.decision == Decision.GRANTED.value, amount_fen=r.amount_fen,
                annual_rate=None if r.annual_rate is None else Decimal(r.annual_rate),
                first_loan=None if r.first_loan is None else bool(r.first_loan),
                secured=None if r.secured is None else bool(r.secured),
            ))
    return rows
