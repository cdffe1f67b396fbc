"""The webhook outbox: events enqueued in the transaction that creates them, delivered with retries.

Delivery is at-least-once. A failed attempt (no webhook registered, connection error, timeout, non-2xx)
is retried after an exponential backoff with jitter; after `max_attempts` failures the delivery moves to
the dead-letter state, where an operator can list and requeue it. One dispatcher runs per platform.

Before each attempt the registered URL is checked again and its host resolved afresh
(`platform_node.institutions.webhook_targets`); the attempt connects to that checked address, so a name
re-bound to an internal address since registration is refused, not followed. The bank sees why an attempt
failed only as a coarse category (`DeliveryError`); the detail goes to the server log. The response body
is never read, redirects are never followed, and no connection is reused.
"""

from __future__ import annotations

import logging
import os
import random
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import httpcore
import httpx
from sqlalchemy import Connection, Engine, and_, insert, select, update

from consent.authorisation.schema import from_epoch, to_epoch
from platform_node.institutions.registry import WebhookTarget
from platform_node.institutions.webhook_targets import (
    PRODUCTION_POLICY,
    Resolver,
    WebhookPolicy,
    WebhookTargetRefused,
    check_webhook_target,
    system_resolver,
)
from platform_node.monitoring.pinned_post import post_status
from platform_node.monitoring.schema import webhook_deliveries
from platform_node.monitoring.webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    signature_header,
)

log = logging.getLogger("xyd.platform.webhooks")


class DeliveryError(StrEnum):
    """Why an attempt failed, as the bank sees it (`last_error`): categories only, so the answers cannot
    be read as a scan of the platform's network; the detail is in the server log."""

    NO_WEBHOOK = "NO_WEBHOOK"
    ADDRESS_REFUSED = "ADDRESS_REFUSED"  # the URL breaks a rule now, or its host no longer resolves to a public one
    TIMEOUT = "TIMEOUT"
    CONNECTION_REFUSED = "CONNECTION_REFUSED"
    CONNECTION_FAILED = "CONNECTION_FAILED"
    TLS_ERROR = "TLS_ERROR"
    PROTOCOL_ERROR = "PROTOCOL_ERROR"
    HTTP_3XX = "HTTP_3XX"  # redirects are not followed
    HTTP_4XX = "HTTP_4XX"
    HTTP_5XX = "HTTP_5XX"


def _transport_error(exc: Exception) -> DeliveryError:
    """The category of a transport failure, from the exception and its causes."""
    if isinstance(exc, httpcore.TimeoutException):
        return DeliveryError.TIMEOUT
    chain: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and len(chain) < 8:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    if any(isinstance(c, ssl.SSLError) for c in chain):
        return DeliveryError.TLS_ERROR
    if any(isinstance(c, ConnectionRefusedError) for c in chain):
        return DeliveryError.CONNECTION_REFUSED
    if isinstance(exc, httpcore.ConnectError):
        return DeliveryError.CONNECTION_FAILED
    return DeliveryError.PROTOCOL_ERROR


def _status_error(status: int) -> DeliveryError | None:
    if 200 <= status < 300:
        return None
    if status < 400:
        return DeliveryError.HTTP_3XX
    return DeliveryError.HTTP_4XX if status < 500 else DeliveryError.HTTP_5XX


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
        policy: WebhookPolicy = PRODUCTION_POLICY,
        resolver: Resolver = system_resolver,
        timeout_s: float = 5.0,
        rng: random.Random | None = None,
    ) -> None:
        """`timeout_s` bounds a whole attempt (connection, TLS, request, the answer's head), not each read."""
        self._outbox, self._targets, self._schedule = outbox, targets, schedule
        self._policy, self._resolver, self._timeout_s = policy, resolver, timeout_s
        self._ssl_context = httpx.create_ssl_context()
        self._rng = rng or random.Random()

    def close(self) -> None:
        """Nothing is held between attempts (no connection is reused)."""

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
                self._outbox.record_attempt(delivery, status=DeliveryStatus.DEAD.value, attempts=attempts,
                                            last_error=error.value)
                log.warning("webhook dead-lettered", extra={"delivery": delivery.id, "attempts": attempts})
                dead += 1
            else:
                wait = self._schedule.delay(attempts, self._rng)
                self._outbox.record_attempt(delivery, attempts=attempts, last_error=error.value,
                                            next_attempt_at=to_epoch(now) + max(1, round(wait)))
                retried += 1
        return DeliveryReport(delivered, retried, dead)

    def _attempt(self, delivery: Delivery, now: datetime) -> DeliveryError | None:
        """None on a 2xx answer, otherwise the failure's category (the detail is logged, never stored)."""
        target = self._targets(delivery.institution_id)
        if target is None:
            return DeliveryError.NO_WEBHOOK
        try:
            checked = check_webhook_target(target.url, self._policy, self._resolver)
        except WebhookTargetRefused as refused:
            log.warning("webhook target refused at delivery",
                        extra={"delivery": delivery.id, "institution": delivery.institution_id,
                               "rule": refused.rule.value})
            return DeliveryError.ADDRESS_REFUSED
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature_header(target.secret, delivery.body, now=now),
            DELIVERY_HEADER: delivery.id,
            EVENT_HEADER: delivery.event_type,
        }
        try:
            status = post_status(checked, delivery.body, headers, deadline_s=self._timeout_s,
                                 ssl_context=self._ssl_context)
        except Exception as exc:  # any failure of the receiver's making is a category, never a crash
            category = _transport_error(exc)
            log.info("webhook attempt failed", extra={"delivery": delivery.id, "institution": delivery.institution_id,
                                                      "category": category.value, "error": type(exc).__name__})
            return category
        category = _status_error(status)
        if category is not None:
            log.info("webhook attempt failed", extra={"delivery": delivery.id, "institution": delivery.institution_id,
                                                      "category": category.value, "status": status})
        return category


def _to_delivery(row) -> Delivery:
    return Delivery(
        id=row.id, institution_id=row.institution_id, event_type=row.event_type, event_id=row.event_id,
        body=bytes(row.body), status=DeliveryStatus(row.status), attempts=row.attempts,
        next_attempt_at=from_epoch(row.next_attempt_at), last_error=row.last_error,
        delivered_at=None if row.delivered_at is None else from_epoch(row.delivered_at),
    )
