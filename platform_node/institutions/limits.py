"""Per-institution rate limits (token bucket, in memory) and daily quotas (counted in the database).

Rate limit: a bucket of `burst` tokens refilled at `rate_per_s`; each request takes one. Quota: enterprises
scored per UTC day, counted in a row per (institution, day) with a conditional increment, so concurrent
requests can never take the count past the limit. Time comes from the caller, so tests never sleep.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from consent.audit.prepared import PreparedStatement
from platform_node.institutions.errors import QuotaExhausted, RateLimited
from platform_node.institutions.schema import quota_usage

SECONDS_PER_DAY = 86_400


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBucketLimiter:
    """Thread-safe token buckets keyed by institution id."""

    def __init__(self) -> None:
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str, *, rate_per_s: float, burst: int, now: float, reason: str = "") -> None:
        """Take one token at time `now` (seconds); raises `RateLimited` with the wait until one is free."""
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(float(burst), now)
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(float(burst), bucket.tokens + elapsed * rate_per_s)
            bucket.updated = max(bucket.updated, now)
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return
            wait = (1.0 - bucket.tokens) / rate_per_s
        raise RateLimited(reason or f"rate limit of {rate_per_s:g} requests/s (burst {burst}) reached", wait)


def utc_day(moment: datetime) -> int:
    return int(moment.timestamp()) // SECONDS_PER_DAY


def seconds_to_next_day(moment: datetime) -> float:
    return SECONDS_PER_DAY - moment.timestamp() % SECONDS_PER_DAY


_KEY = and_(quota_usage.c.institution_id == bindparam("institution_id"), quota_usage.c.day == bindparam("day"))
# The hot path of every served score: compiled once per dialect, one statement when the day's row exists.
_CHARGE = PreparedStatement(
    update(quota_usage).where(and_(_KEY, quota_usage.c.used + bindparam("count") <= bindparam("limit")))
    .values(used=quota_usage.c.used + bindparam("count")).returning(quota_usage.c.used)
)
_READ = PreparedStatement(select(quota_usage.c.used).where(_KEY))
_FIRST = PreparedStatement(insert(quota_usage).values(institution_id=bindparam("institution_id"),
                                                      day=bindparam("day"), used=bindparam("count")))


def consume_quota(conn: Connection, institution_id: str, count: int, *, limit: int, now: datetime) -> int:
    """Count `count` enterprises against today's quota inside the caller's transaction; returns the new total.

    Raises `QuotaExhausted` (and counts nothing) when the total would pass `limit`.
    """
    key = {"institution_id": institution_id, "day": utc_day(now)}
    for _ in range(2):  # a concurrent first insert of the day loses the race once, then updates
        total = _CHARGE.execute(conn, {**key, "count": count, "limit": limit}).scalar_one_or_none()
        if total is not None:
            return int(total)
        existing = _READ.execute(conn, key).scalar_one_or_none()
        if existing is not None or count > limit:
            used = existing or 0
            raise QuotaExhausted(
                f"daily quota of {limit} enterprises: {used} used, {count} requested", seconds_to_next_day(now)
            )
        try:
            with conn.begin_nested():
                _FIRST.execute(conn, {**key, "count": count})
            return count
        except IntegrityError:
            continue
    raise QuotaExhausted(f"daily quota of {limit} enterprises could not be counted", 1)


def quota_used(conn: Connection, institution_id: str, *, now: datetime) -> int:
    value = conn.execute(
        select(quota_usage.c.used).where(
            and_(quota_usage.c.institution_id == institution_id, quota_usage.c.day == utc_day(now))
        )
    ).scalar_one_or_none()
    return int(value or 0)
