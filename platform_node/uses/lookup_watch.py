"""Watching look-up patterns: a bank that asks about many enterprises the federation does not know raises an
alert for the compliance officer.

A bank scoring its own loan applicants mostly asks about enterprises the federation knows; a run of unknown
codes is what probing the federation's membership looks like. Every look-up is already a use on record
(`records.py`); this adds a signal. Counts are kept in memory per institution and fixed window
(`window_s`, aligned to the epoch), fed by the group-commit writer with what it commits, so the hot path
reads nothing. An alert is raised once per institution and window, when the window holds at least
`min_unknown` unknown codes and they are at least `unknown_share` of its look-ups; it is stored
(`platform_lookup_alerts`) in the transaction of the uses that crossed the line and listed by
`GET /v1/compliance/lookup-alerts`. Counts restart with the process: a restart within a window can delay
that window's alert, never invent one.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, insert, select

from consent.authorisation.schema import from_epoch, to_epoch
from platform_node.uses.schema import lookup_alerts

log = logging.getLogger("xyd.platform.uses")

UNKNOWN_LOOKUPS = "UNKNOWN_LOOKUPS"


@dataclass(frozen=True)
class LookupWatchRule:
    """When unknown look-ups are unusual: at least `min_unknown` of them, and at least `unknown_share` of
    all look-ups, within one window of `window_s` seconds."""

    window_s: int = 3600
    min_unknown: int = 50
    unknown_share: float = 0.2

    def __post_init__(self) -> None:
        if self.window_s < 1 or self.min_unknown < 1:
            raise ValueError("window_s and min_unknown must be at least 1")
        if not (math.isfinite(self.unknown_share) and 0 <= self.unknown_share <= 1):
            raise ValueError("unknown_share must be a fraction in [0, 1]")


@dataclass(frozen=True)
class LookupAlert:
    """An institution's unusual look-ups in one window, as stored for compliance."""

    id: str
    institution_id: str
    kind: str
    window_start: datetime
    window_end: datetime
    unknown: int
    lookups: int
    created_at: datetime


@dataclass
class _Window:
    index: int
    unknown: int = 0
    lookups: int = 0
    alerted: bool = False


class UnknownLookupWatch:
    """Counts look-ups and unknown codes per institution and window; thread-safe."""

    def __init__(self, rule: LookupWatchRule | None = None, *,
                 randbytes: Callable[[int], bytes] = os.urandom) -> None:
        self.rule = rule or LookupWatchRule()
        self._randbytes = randbytes
        self._windows: dict[str, _Window] = {}
        self._lock = threading.Lock()

    def observe(self, institution_id: str, *, unknown: int, lookups: int, now: datetime) -> LookupAlert | None:
        """Count one request's look-ups; the alert if this request takes the window over the line."""
        if lookups <= 0:
            return None
        rule = self.rule
        index = int(now.timestamp()) // rule.window_s
        with self._lock:
            window = self._windows.get(institution_id)
            if window is None or window.index != index:
                if window is None and len(self._windows) > 100_000:  # institutions are few; bound anyway
                    self._windows.clear()
                window = self._windows[institution_id] = _Window(index)
            window.unknown += unknown
            window.lookups += lookups
            if window.alerted or window.unknown < rule.min_unknown or \
                    window.unknown < rule.unknown_share * window.lookups:
                return None
            window.alerted = True
            counts = (window.unknown, window.lookups)
        start = index * rule.window_s
        alert = LookupAlert("lka-" + self._randbytes(8).hex(), institution_id, UNKNOWN_LOOKUPS, from_epoch(start),
                            from_epoch(start + rule.window_s), counts[0], counts[1], now)
        log.warning("unusual look-ups", extra={"institution": institution_id, "unknown": counts[0],
                                               "lookups": counts[1], "alert": alert.id})
        return alert


def store_lookup_alert(conn: Connection, alert: LookupAlert) -> None:
    """Insert the alert inside the caller's transaction."""
    conn.execute(insert(lookup_alerts).values(
        id=alert.id, institution_id=alert.institution_id, kind=alert.kind, window_start=to_epoch(alert.window_start),
        window_end=to_epoch(alert.window_end), unknown=alert.unknown, lookups=alert.lookups,
        created_at=to_epoch(alert.created_at),
    ))


def list_lookup_alerts(engine: Engine, *, institution_id: str | None = None, since: datetime | None = None,
                       limit: int = 100) -> list[LookupAlert]:
    """Stored alerts, oldest first."""
    query = select(lookup_alerts).order_by(lookup_alerts.c.created_at, lookup_alerts.c.id).limit(limit)
    if institution_id is not None:
        query = query.where(lookup_alerts.c.institution_id == institution_id)
    if since is not None:
        query = query.where(lookup_alerts.c.created_at >= to_epoch(since))
    with engine.connect() as conn:
        return [LookupAlert(row.id, row.institution_id, row.kind, from_epoch(row.window_start),
                            from_epoch(row.window_end), row.unknown, row.lookups, from_epoch(row.created_at))
                for row in conn.execute(query)]
