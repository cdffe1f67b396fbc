"""Group commit for score uses: concurrent requests share one write transaction.

SQLite (and the log's append lock on PostgreSQL) lets one writer at a time append leaves, so sixteen bank
requests each opening its own transaction spend most of their time queueing for the lock. Here requests
hand their prepared uses to one writer thread, which takes everything queued so far into one transaction:
it counts each request against its institution's daily quota, appends all the leaves with one head update
and inserts all the use rows. Each request then gets its own receipts. A request over its quota fails
alone (the quota check writes nothing when it refuses); a failed commit fails every request of the group,
and none of their uses or leaves is written. A commit the database refuses (a full disk, an I/O error, a
lost connection) fails them with `UseStoreUnavailable`, which the API answers with 503: nothing is served
without its use and leaf.

The writer also remembers each institution's quota use as of its last commit, so the API can refuse an
exhausted bank before asking the source nodes without reading the database on every request, and feeds
what it commits to the look-up watch (`lookup_watch.py`), storing its alerts in the same transaction.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from platform_node.institutions.errors import QuotaExhausted
from platform_node.institutions.limits import consume_quota, utc_day
from platform_node.scoring.scorer import FailureCode, ScoreFailure
from platform_node.uses.errors import UseStoreUnavailable
from platform_node.uses.grouped_queue import GroupedQueue
from platform_node.uses.lookup_watch import UnknownLookupWatch, store_lookup_alert
from platform_node.uses.records import PreparedUses, RecordedUse, UseBook

log = logging.getLogger("xyd.platform.uses")


@dataclass(frozen=True)
class PendingUses:
    """One request's prepared uses, to be counted against its institution's daily quota and written."""

    institution_id: str
    daily_quota: int
    prepared: PreparedUses
    now: datetime


@dataclass(eq=False)
class _Request:
    institution_id: str
    daily_quota: int
    prepared: PreparedUses
    now: datetime
    future: Future


class GroupCommitRecorder:
    """Records prepared score uses with their quota charge; one writer thread commits them in groups."""

    def __init__(self, engine: Engine, uses: UseBook, *, max_group: int = 512,
                 watch: UnknownLookupWatch | None = None) -> None:
        if max_group < 1:
            raise ValueError("max_group must be at least 1")
        self._engine, self._uses, self._max_group = engine, uses, max_group
        self._watch = watch
        self._queue: GroupedQueue[_Request] = GroupedQueue(self._write, self._take_group, name="use-group-commit")
        self._used_lock = threading.Lock()
        self._used: dict[tuple[str, int], int] = {}

    def submit(self, *, institution_id: str, daily_quota: int, prepared: PreparedUses,
               now: datetime) -> Future:
        """Queue the uses; the future gives their `RecordedUse`s or raises `QuotaExhausted` / the database's
        error (then nothing of this request was written)."""
        return self.submit_many([PendingUses(institution_id, daily_quota, prepared, now)])[0]

    def submit_many(self, pending: Sequence[PendingUses]) -> list[Future]:
        """`submit` for several requests at once: queued together, so a free writer commits them in one
        transaction."""
        requests = [_Request(p.institution_id, p.daily_quota, p.prepared, p.now, Future()) for p in pending]
        self._queue.put_many(requests)
        return [request.future for request in requests]

    def record(self, *, institution_id: str, daily_quota: int, prepared: PreparedUses,
               now: datetime) -> list[RecordedUse]:
        """`submit` and wait for the commit."""
        return self.submit(institution_id=institution_id, daily_quota=daily_quota, prepared=prepared,
                           now=now).result()

    def known_quota_use(self, institution_id: str, *, now: datetime) -> int | None:
        """Enterprises counted today for the institution as of this recorder's last commit; None if unknown."""
        with self._used_lock:
            return self._used.get((institution_id, utc_day(now)))

    def close(self) -> None:
        """Write what is queued, then stop the writer thread."""
        self._queue.close()

    def _take_group(self, queue: deque[_Request]) -> list[_Request]:
        return [queue.popleft() for _ in range(min(self._max_group, len(queue)))]

    @staticmethod
    def _charge(conn: Connection, requests: list[_Request], charged: dict[tuple[str, int], int],
                refused: dict[_Request, QuotaExhausted]) -> None:
        """Count one institution's requests against its quota: all at once if they fit together (one
        statement for the lot), else one by one so that only those over the quota fail."""
        first = requests[0]
        key = (first.institution_id, utc_day(first.now))
        counts = [len(r.prepared.rows) for r in requests]
        if sum(counts) == 0:
            return
        try:
            charged[key] = consume_quota(conn, first.institution_id, sum(counts), limit=first.daily_quota,
                                         now=first.now)
            return
        except QuotaExhausted:
            pass  # counted nothing; try each request on its own
        for request, count in zip(requests, counts, strict=True):
            if not count:
                continue
            try:
                charged[key] = consume_quota(conn, request.institution_id, count, limit=request.daily_quota,
                                             now=request.now)
            except QuotaExhausted as error:  # counted nothing: fails this request only
                refused[request] = error

    def _observe(self, conn: Connection, accepted: list[_Request]) -> None:
        """Count the committed look-ups; store any alert they raise in this transaction."""
        assert self._watch is not None
        for request in accepted:
            alert = self._watch.observe(request.institution_id, unknown=_unknown(request.prepared),
                                        lookups=len(request.prepared.rows), now=request.now)
            if alert is not None:
                store_lookup_alert(conn, alert)

    def _write(self, group: list[_Request]) -> None:
        charged: dict[tuple[str, int], int] = {}
        refused: dict[_Request, QuotaExhausted] = {}
        try:
            with self._engine.begin() as conn:
                for requests in _by_quota(group).values():
                    self._charge(conn, requests, charged, refused)
                accepted = [request for request in group if request not in refused]
                merged = PreparedUses(
                    tuple(o for r in accepted for o in r.prepared.outcomes),
                    tuple(row for r in accepted for row in r.prepared.rows),
                    tuple(e for r in accepted for e in r.prepared.events),
                )
                recorded = self._uses.record(conn, merged)
                if self._watch is not None:
                    self._observe(conn, accepted)
        except Exception as failure:
            # The driver's own message ("database or disk is full"), never the statement and its parameters.
            detail = str(failure.orig)[:200] if isinstance(failure, DBAPIError) else ""
            log.error("use group commit failed", extra={"requests": len(group), "error": type(failure).__name__,
                                                        "detail": detail})
            refusal: Exception = failure
            if isinstance(failure, DBAPIError):
                refusal = UseStoreUnavailable(type(failure).__name__)
                refusal.__cause__ = failure
            for request in group:
                request.future.set_exception(refusal)
            return
        with self._used_lock:
            self._used.update(charged)
            if charged:  # only the newest day's figures are ever asked for
                today = max(day for _, day in charged)
                self._used = {key: used for key, used in self._used.items() if key[1] >= today}
        start = 0
        for request in group:
            if request in refused:
                request.future.set_exception(refused[request])
                continue
            count = len(request.prepared.rows)
            request.future.set_result(recorded[start:start + count])
            start += count


def _unknown(prepared: PreparedUses) -> int:
    return sum(1 for o in prepared.outcomes
               if isinstance(o, ScoreFailure) and o.code is FailureCode.UNKNOWN_ENTERPRISE)


def _by_quota(group: list[_Request]) -> dict[tuple[str, int, int], list[_Request]]:
    """The group's requests per institution, quota day and limit, in arrival order."""
    out: dict[tuple[str, int, int], list[_Request]] = {}
    for request in group:
        out.setdefault((request.institution_id, utc_day(request.now), request.daily_quota), []).append(request)
    return out

