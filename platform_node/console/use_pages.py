"""Pages of uses for the console: filtered in SQL, newest first, continued by a keyset cursor.

A page is one indexed query whatever the number of uses on record (no OFFSET, no total count): the cursor is
the last row's (time, id), and a page reads the rows strictly before it. The institution filter is applied to
every query of a bank's page, so a cursor, whoever made it, only ever positions within the bank's own uses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, and_, or_, select

from consent.audit.storage import READ_ONLY
from consent.authorisation.schema import to_epoch
from platform_node.uses.records import UseKind, UseRecord, to_use_record
from platform_node.uses.schema import uses

PAGE_SIZE = 50
STATES = ("due", "overdue", "decided", "unanswered")
_CURSOR = re.compile(r"([0-9]{1,12})\.([a-z]{3}-[0-9a-z]{16})")


@dataclass(frozen=True)
class UseFilter:
    institution_id: str | None = None
    credit_code: str | None = None
    purpose: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    state: str | None = None


@dataclass(frozen=True)
class UsePage:
    items: list[UseRecord]
    next_cursor: str | None


def parse_cursor(text: str | None) -> tuple[int, str] | None:
    """A cursor `<created_at>.<use id>`; anything else is read as no cursor (the first page)."""
    match = _CURSOR.fullmatch(text or "")
    return None if match is None else (int(match.group(1)), match.group(2))


def use_page(engine: Engine, flt: UseFilter, *, now: datetime, cursor: str | None = None,
             limit: int = PAGE_SIZE) -> UsePage:
    conditions = []
    if flt.institution_id is not None:
        conditions.append(uses.c.institution_id == flt.institution_id)
    if flt.credit_code:
        conditions.append(uses.c.credit_code == flt.credit_code)
    if flt.purpose:
        conditions.append(uses.c.purpose == flt.purpose)
    if flt.since is not None:
        conditions.append(uses.c.created_at >= to_epoch(flt.since))
    if flt.until is not None:
        conditions.append(uses.c.created_at < to_epoch(flt.until))
    moment = to_epoch(now)
    score = uses.c.kind == UseKind.SCORE.value
    if flt.state == "due":
        conditions += [score, uses.c.decision.is_(None), uses.c.feedback_due_at >= moment]
    elif flt.state == "overdue":
        conditions += [score, uses.c.decision.is_(None), uses.c.feedback_due_at < moment]
    elif flt.state == "decided":
        conditions.append(uses.c.decision.is_not(None))
    elif flt.state == "unanswered":
        conditions.append(uses.c.kind == UseKind.UNANSWERED.value)
    anchor = parse_cursor(cursor)
    if anchor is not None:
        conditions.append(or_(uses.c.created_at < anchor[0],
                              and_(uses.c.created_at == anchor[0], uses.c.id < anchor[1])))
    query = select(uses).order_by(uses.c.created_at.desc(), uses.c.id.desc()).limit(limit + 1)
    if conditions:
        query = query.where(and_(*conditions))
    with engine.connect().execution_options(**READ_ONLY) as conn:
        rows = conn.execute(query).fetchall()
    items = [to_use_record(r) for r in rows[:limit]]
    more = len(rows) > limit
    last = rows[limit - 1] if more else None
    return UsePage(items, f"{last.created_at}.{last.id}" if last is not None else None)
