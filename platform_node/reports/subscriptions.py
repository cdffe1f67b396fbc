"""Subscriptions to newly published public items by district or industry, pushed in batches by webhook.

Only institutions with a SUBSCRIPTIONS agreement in force receive pushes; while an agreement is missing a
subscription's cursor does not move, so items are delivered once one is recorded again. Each batch goes into
the webhook outbox in the same transaction that advances the cursor, so no item is skipped or sent twice by
the platform (the receiver still deduplicates by delivery id, as delivery is at-least-once).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, and_, insert, select, update

from consent.authorisation.codec import format_time
from consent.authorisation.schema import from_epoch, to_epoch
from errors import InvalidInput, NotFound
from platform_node.institutions.agreements import AgreementBook, AgreementScope
from platform_node.monitoring.delivery import WebhookOutbox
from platform_node.reports.public_records import PublicRecord, PublicRecordSource
from platform_node.reports.schema import report_metadata, subscriptions

PUSH_EVENT = "public_items.batch"
_DISTRICT = re.compile(r"[0-9]{6}")
_INDUSTRY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class SubscriptionNotFound(NotFound):
    def __init__(self, subscription_id: str) -> None:
        super().__init__(f"no subscription {subscription_id!r}")


class InvalidSubscription(InvalidInput):
    """A subscription needs a district (6-digit division code) or an industry code, well formed."""


@dataclass(frozen=True)
class Subscription:
    id: str
    institution_id: str
    district: str | None
    industry: str | None
    cursor: int
    active: bool
    created_at: datetime

    def matches(self, record: PublicRecord) -> bool:
        return (self.district is None or record.district == self.district) and (
            self.industry is None or record.industry == self.industry
        )


def record_payload(record: PublicRecord) -> dict[str, object]:
    """The public JSON form of one item (reports and pushes)."""
    return {
        "item_id": record.item_id,
        "credit_code": record.credit_code,
        "category": record.category,
        "source_unit": record.source_unit,
        "published_at": format_time(record.published_at),
        "district": record.district,
        "industry": record.industry,
        "title": record.title,
        "fields": dict(record.fields),
    }


@dataclass(frozen=True)
class PushReport:
    batches: int
    items: int
    skipped_without_agreement: int


class SubscriptionBook:
    def __init__(self, engine: Engine, source: PublicRecordSource, *,
                 randbytes: Callable[[int], bytes] = os.urandom) -> None:
        self._engine, self._source, self._randbytes = engine, source, randbytes

    def create_schema(self) -> None:
        report_metadata.create_all(self._engine)

    def create(self, institution_id: str, *, district: str | None, industry: str | None, now: datetime) -> Subscription:
        if district is None and industry is None:
            raise InvalidSubscription("a subscription names a district, an industry, or both")
        if district is not None and not _DISTRICT.fullmatch(district):
            raise InvalidSubscription("district must be a 6-digit administrative division code")
        if industry is not None and not _INDUSTRY.fullmatch(industry):
            raise InvalidSubscription("industry must be a short industry code")
        sub = Subscription("sub-" + self._randbytes(8).hex(), institution_id, district, industry,
                           self._source.head(), True, from_epoch(to_epoch(now)))
        with self._engine.begin() as conn:
            conn.execute(insert(subscriptions).values(
                id=sub.id, institution_id=institution_id, district=district, industry=industry, cursor=sub.cursor,
                active=True, created_at=to_epoch(now),
            ))
        return sub

    def list_for(self, institution_id: str) -> list[Subscription]:
        return self._select(subscriptions.c.institution_id == institution_id)

    def active(self) -> list[Subscription]:
        return self._select(subscriptions.c.active.is_(True))

    def cancel(self, subscription_id: str, *, institution_id: str) -> Subscription:
        with self._engine.begin() as conn:
            done = conn.execute(
                update(subscriptions)
                .where(and_(subscriptions.c.id == subscription_id, subscriptions.c.institution_id == institution_id))
                .values(active=False)
            )
        if done.rowcount != 1:
            raise SubscriptionNotFound(subscription_id)
        return self._select(subscriptions.c.id == subscription_id)[0]

    def _select(self, condition) -> list[Subscription]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(subscriptions).where(condition).order_by(subscriptions.c.created_at,
                                                                               subscriptions.c.id)).all()
        return [Subscription(r.id, r.institution_id, r.district, r.industry, r.cursor, bool(r.active),
                             from_epoch(r.created_at)) for r in rows]


class SubscriptionPusher:
    def __init__(self, engine: Engine, book: SubscriptionBook, source: PublicRecordSource, outbox: WebhookOutbox,
                 agreements: AgreementBook, *, batch_size: int = 500, read_size: int = 5000) -> None:
        self._engine, self._book, self._source, self._outbox = engine, book, source, outbox
        self._agreements, self._batch, self._read = agreements, batch_size, read_size

    def run(self, *, now: datetime) -> PushReport:
        """Push every active subscription's new matching public items, in batches of at most `batch_size`.

        The stream is read a page at a time; a page's batches and the cursor past it commit together.
        """
        holders = self._agreements.holders(AgreementScope.SUBSCRIPTIONS, now=now)
        batches = items = skipped = 0
        for sub in self._book.active():
            if sub.institution_id not in holders:
                skipped += 1
                continue
            cursor = sub.cursor
            while True:
                records, after = self._source.published_after(cursor, limit=self._read)
                if not records:
                    break
                matched = [r for r in records if r.is_public and sub.matches(r)]
                chunks = [matched[i : i + self._batch] for i in range(0, len(matched), self._batch)]
                with self._engine.begin() as conn:
                    for chunk in chunks:
                        self._outbox.enqueue(conn, institution_id=sub.institution_id, event_type=PUSH_EVENT,
                                             event_id=f"{sub.id}:{chunk[-1].item_id}", body=_batch_body(sub, chunk),
                                             now=now)
                    conn.execute(update(subscriptions).where(subscriptions.c.id == sub.id).values(cursor=after))
                batches, items, cursor = batches + len(chunks), items + len(matched), after
        return PushReport(batches, items, skipped)


def _batch_body(sub: Subscription, chunk: list[PublicRecord]) -> bytes:
    return json.dumps(
        {"subscription_id": sub.id, "items": [record_payload(r) for r in chunk]},
        sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    ).encode()
