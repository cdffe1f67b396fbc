"""Feedback deadlines: which uses are overdue, which institutions are behind, and the throttling policy.

A score use is overdue when no decision was reported by its `feedback_due_at` (set from the platform's
configured deadline when the use was recorded). The policy decides what an institution with more than
`max_overdue` overdue uses gets on new scoring requests: nothing (listed only), a reduced rate limit, or a
refusal until it reports.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Engine, and_, func, select

from consent.authorisation.schema import from_epoch, to_epoch
from platform_node.uses.errors import FeedbackOverdue
from platform_node.uses.records import UseKind, UseRecord, to_use_record
from platform_node.uses.schema import uses


class OverdueAction(StrEnum):
    LIST_ONLY = "LIST_ONLY"
    THROTTLE = "THROTTLE"
    BLOCK = "BLOCK"


@dataclass(frozen=True)
class OverduePolicy:
    """Above `max_overdue` overdue uses: THROTTLE caps requests at `throttled_rate_per_s`; BLOCK refuses."""

    action: OverdueAction = OverdueAction.THROTTLE
    max_overdue: int = 0
    throttled_rate_per_s: float = 0.2

    def __post_init__(self) -> None:
        object.__setattr__(self, "action", OverdueAction(self.action))
        if self.max_overdue < 0 or self.throttled_rate_per_s <= 0:
            raise ValueError("max_overdue must be >= 0 and throttled_rate_per_s > 0")

    def throttled_rate(self, institution_id: str, overdue: int) -> float | None:
        """The reduced rate to apply, None for no change; raises `FeedbackOverdue` under BLOCK."""
        if overdue <= self.max_overdue or self.action is OverdueAction.LIST_ONLY:
            return None
        if self.action is OverdueAction.BLOCK:
            raise FeedbackOverdue(institution_id, overdue)
        return self.throttled_rate_per_s


@dataclass(frozen=True)
class OverdueInstitution:
    institution_id: str
    overdue: int
    oldest_due_at: datetime


def _overdue_condition(now: datetime):
    return and_(uses.c.kind == UseKind.SCORE.value, uses.c.decision.is_(None), uses.c.feedback_due_at < to_epoch(now))


def count_overdue(engine: Engine, institution_id: str, *, now: datetime) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(uses).where(
                    and_(_overdue_condition(now), uses.c.institution_id == institution_id)
                )
            ).scalar_one()
        )


class OverdueCounter:
    """`count_overdue` with a short per-institution cache: the count changes on a scale of days (deadlines)
    or when the institution reports (call `forget`), so scoring need not query it on every request."""

    def __init__(self, engine: Engine, *, ttl: timedelta = timedelta(seconds=30)) -> None:
        self._engine, self._ttl = engine, ttl
        self._cache: dict[str, tuple[datetime, int]] = {}
        self._lock = threading.Lock()

    def count(self, institution_id: str, *, now: datetime) -> int:
        cached = self.cached(institution_id, now=now)
        if cached is not None:
            return cached
        value = count_overdue(self._engine, institution_id, now=now)
        with self._lock:
            self._cache[institution_id] = (now, value)
        return value

    def cached(self, institution_id: str, *, now: datetime) -> int | None:
        """The count if it was read within the time to live; no I/O, so an event loop may call it."""
        with self._lock:
            cached = self._cache.get(institution_id)
        if cached is not None and cached[0] <= now < cached[0] + self._ttl:
            return cached[1]
        return None

    def forget(self, institution_id: str) -> None:
        with self._lock:
            self._cache.pop(institution_id, None)


def overdue_institutions(engine: Engine, *, now: datetime) -> list[OverdueInstitution]:
    """Every institution with overdue uses, most overdue first."""
    query = (
        select(uses.c.institution_id, func.count().label("n"), func.min(uses.c.feedback_due_at).label("oldest"))
        .where(_overdue_condition(now))
        .group_by(uses.c.institution_id)
        .order_by(func.count().desc(), uses.c.institution_id)
    )
    with engine.connect() as conn:
        return [OverdueInstitution(r.institution_id, int(r.n), from_epoch(r.oldest)) for r in conn.execute(query)]


def overdue_uses(
    engine: Engine, *, now: datetime, institution_id: str | None = None, limit: int = 100
) -> list[UseRecord]:
    """Overdue uses, oldest deadline first."""
    query = select(uses).where(_overdue_condition(now)).order_by(uses.c.feedback_due_at, uses.c.id).limit(limit)
    if institution_id is not None:
        query = query.where(uses.c.institution_id == institution_id)
    with engine.connect() as conn:
        return [to_use_record(row) for row in conn.execute(query)]
