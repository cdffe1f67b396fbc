"""The webhook outbox: events enqueued in the transaction that creates them, delivered with retries.

Delivery is at-least-once. A failed attempt (no webhook registered, connection error, timeout, non-2xx)
is retried after an exponential backoff with jitter; after `max_attempts` failures the delivery moves to
the dead-letter state, where an operator can list and requeue it. One dispatcher runs per platform.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import httpx
from sqlalchemy import Connection, Engine, and_, insert, select, update

from consent.authorisation.schema import from_epoch, to_epoch
from platform_node.institutions.registry import WebhookTarget
from platform_node.monitoring.schema import webhook_deliveries
from platform_node.monitoring.webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    signature_header,
)

log = logging.getLogger("xyd.platform.webhooks")


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    DEAD = "DEAD"


@dataclass(frozen=True)
class RetrySchedule:
    """Attempt k+1 waits initial_s * multiplier^(k-1) (capped at max_s) +/- jitter; DEAD after max_attempts."""

    max_attempts: int = 6
    initial_s: float = 5.0
    multiplier: float = 2.0
    max_s: float = 3600.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or not 0 < self.initial_s <= self.max_s or self.multiplier < 1:
            raise ValueError("need max_attempts >= 1, 0 < initial_s <= max_s and multiplier >= 1")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait after failed attempt `attempt` (1-based)."""
        base = min(self.max_s, self.initial_s * self.multiplier ** (attempt - 1))
        # Jitter spreads the retries of deliveries that failed together (a receiver restart).
        return base * (1 + self.jitter * rng.uniform(-1.0, 1.0))


@dataclass(frozen=True)
class Delivery:
    id: str
    institution_id: str
    event_type: str
    event_id: str
    body: bytes
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    delivered_at: datetime | None


@dataclass(frozen=True)
class DeliveryReport:
    delivered: int
    retried: int
    dead: int


class WebhookOutbox:
    """Stores deliveries; `enqueue` runs inside the caller's transaction."""

    def __init__(self, engine: Engine, *, randbytes: Callable[[int], bytes] = os.urandom) -> None:
        self._engine, self._randbytes = engine, randbytes

    @property
    def engine(self) -> Engine:
        return self._engine

    def enqueue(
        self, conn: Connection, *, institution_id: str, event_type: str, event_id: str, body: bytes, now: datetime
    ) -> str:
        delivery_id = "dlv-" + self._randbytes(8).hex()
        conn.execute(
            insert(webhook_deliveries).values(
                id=delivery_id, institution_id=institution_id, event_type=event_type, event_id=event_id, body=body,
                status=DeliveryStatus.PENDING.value, attempts=0, next_attempt_at=to_epoch(now),
                created_at=to_epoch(now),
            )
        )
        return delivery_id

    def due(self, *, now: datetime, limit: int = 100) -> list[Delivery]:
        query = (
            select(webhook_deliveries)
            .where(and_(webhook_deliveries.c.status == DeliveryStatus.PENDING.value,
                        webhook_deliveries.c.next_attempt_at <= to_epoch(now)))
            .order_by(webhook_deliveries.c.next_attempt_at, webhook_deliveries.c.seq)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [_to_delivery(row) for row in conn.execute(query)]

    def get(self, delivery_id: str) -> Delivery:
        with self._engine.connect() as conn:
            row = conn.execute(select(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id)).first()
        if row is None:
            raise KeyError(delivery_id)
        return _to_delivery(row)

    def list(self, *, institution_id: str | None = None, status: DeliveryStatus | None = None,
             limit: int = 100) -> list[Delivery]:
        query = select(webhook_deliveries).order_by(webhook_deliveries.c.seq)
        if institution_id is not None:
            query = query.where(webhook_deliveries.c.institution_id == institution_id)
        if status is not None:
            query = query.where(webhook_deliveries.c.status == DeliveryStatus(status).value)
        with self._engine.connect() as conn:
            return [_to_delivery(row) for row in conn.execute(query.limit(limit))]

    def requeue(self, delivery_id: str, *, now: datetime) -> Delivery:
        """Give a dead letter a fresh set of attempts from `now`."""
        with self._engine.begin() as conn:
            done = conn.execute(
                update(webhook_deliveries)
                .where(and_(webhook_deliveries.c.id == delivery_id,
                            webhook_deliveries.c.status == DeliveryStatus.DEAD.value))
                .values(status=DeliveryStatus.PENDING.value, attempts=0, next_attempt_at=to_epoch(now))
            )
        if done.rowcount != 1:
            raise KeyError(delivery_id)
        return self.get(delivery_id)

    def record_attempt(self, delivery: Delivery, **values: object) -> None:
        """Store the result of one attempt (status, attempts, error, next time)."""
        with self._engine.begin() as conn:
            conn.execute(update(webhook_deliveries).where(webhook_deliveries.c.id == delivery.id).values(**values))


class WebhookDispatcher:
    """Sends due deliveries to their institution's webhook, signed with its secret."""

    def __init__(
        self,
        outbox: WebhookOutbox,
        targets: Callable[[str], WebhookTarget | None],
        *,
        schedule: RetrySchedule = RetrySchedule(),
        client: httpx.Client | None = None,
        timeout_s: float = 5.0,
        rng: random.Random | None = None,
    ) -> None:
        self._outbox, self._targets, self._schedule = outbox, targets, schedule
        self._client = client or httpx.Client(timeout=timeout_s, follow_redirects=False)
        self._rng = rng or random.Random()

    def close(self) -> None:
        self._client.close()

    def deliver_due(self, *, now: datetime, limit: int = 100) -> DeliveryReport:
        delivered = retried = dead = 0
        for delivery in self._outbox.due(now=now, limit=limit):
            error = self._attempt(delivery, now)
            attempts = delivery.attempts + 1
            if error is None:
                self._outbox.record_attempt(delivery, status=DeliveryStatus.DELIVERED.value, attempts=attempts,
                                     delivered_at=to_epoch(now), last_error=None)
                delivered += 1
            elif attempts >= self._schedule.max_attempts:
                self._outbox.record_attempt(delivery, status=DeliveryStatus.DEAD.value, attempts=attempts, last_error=error)
                log.warning("webhook dead-lettered", extra={"delivery": delivery.id, "attempts": attempts})
                dead += 1
            else:
                wait = self._schedule.delay(attempts, self._rng)
                self._outbox.record_attempt(delivery, attempts=attempts, last_error=error,
                                     next_attempt_at=to_epoch(now) + max(1, round(wait)))
                retried += 1
        return DeliveryReport(delivered, retried, dead)

    def _attempt(self, delivery: Delivery, now: datetime) -> str | None:
        """None on a 2xx answer, otherwise a short error text (never the response body)."""
        target = self._targets(delivery.institution_id)
        if target is None:
            return "no webhook registered"
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature_header(target.secret, delivery.body, now=now),
            DELIVERY_HEADER: delivery.id,
            EVENT_HEADER: delivery.event_type,
        }
        try:
            response = self._client.post(target.url, content=delivery.body, headers=headers)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}"
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}"


def _to_delivery(row) -> Delivery:
    return Delivery(
        id=row.id, institution_id=row.institution_id, event_type=row.event_type, event_id=row.event_id,
        body=bytes(row.body), status=DeliveryStatus(row.status), attempts=row.attempts,
        next_attempt_at=from_epoch(row.next_attempt_at), last_error=row.last_error,
        delivered_at=None if row.delivered_at is None else from_epoch(row.delivered_at),
    )
