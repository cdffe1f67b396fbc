"""Public information as the source nodes publish it, behind one interface the report and the push read.

Only categories that are public by law (registration, penalties, court enforcement lists, ...) may reach a
bank through this path. Every record carries the sensitivity its source declared; readers drop anything not
PUBLIC (and any category outside `PUBLIC_CATEGORIES`), so a misconfigured source cannot leak private data.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from consent.authorisation import Sensitivity
from consent.authorisation.codec import parse_time

_TOKEN = re.compile(r"[a-z][a-z0-9_]{0,63}")


class PublicCategory(StrEnum):
    """Public data categories of a standard report (an enterprise's public credit information)."""

    REGISTRATION = "registration"
    ADMINISTRATIVE_LICENCE = "administrative_licence"
    ADMINISTRATIVE_PENALTY = "administrative_penalty"
    COURT_ENFORCEMENT = "court_enforcement"
    DISHONEST_JUDGMENT_DEBTOR = "dishonest_judgment_debtor"
    ABNORMAL_OPERATION = "abnormal_operation"
    TAX_CREDIT_RATING = "tax_credit_rating"
    HONOURS = "honours"


PUBLIC_CATEGORIES = frozenset(PublicCategory)


@dataclass(frozen=True)
class PublicRecord:
    """One published item: which enterprise, which category, from which source, and its public fields."""

    item_id: str
    credit_code: str
    category: str
    sensitivity: Sensitivity
    source_unit: str
    published_at: datetime
    district: str
    industry: str
    title: str
    fields: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "sensitivity", Sensitivity(self.sensitivity))
        if isinstance(self.fields, Mapping):
            object.__setattr__(self, "fields", tuple(sorted(self.fields.items())))
        if not _TOKEN.fullmatch(self.category):
            raise ValueError(f"category {self.category!r} is not a lowercase token")

    @property
    def is_public(self) -> bool:
        return self.sensitivity is Sensitivity.PUBLIC and self.category in PUBLIC_CATEGORIES


class PublicRecordSource(Protocol):
    """Public items by enterprise, and the stream of newly published items (a monotonic sequence cursor)."""

    def knows(self, credit_code: str) -> bool: ...

    def records_for(self, credit_code: str) -> Sequence[PublicRecord]: ...

    def published_after(self, cursor: int, *, limit: int) -> tuple[Sequence[PublicRecord], int]:
        """Items published after `cursor`, oldest first, and the cursor after the last one returned."""
        ...

    def head(self) -> int:
        """The cursor after the newest item (where a new subscription starts)."""
        ...


class InMemoryPublicRecords:
    """A `PublicRecordSource` over a list, with `publish` appending to the stream; for tests and the demo."""

    def __init__(self, records: Sequence[PublicRecord] = (), *, enterprises: Sequence[str] = ()) -> None:
        self._records: list[PublicRecord] = []
        self._enterprises: set[str] = set(enterprises)
        self._lock = threading.Lock()
        for record in records:
            self.publish(record)

    def publish(self, record: PublicRecord) -> int:
        with self._lock:
            self._records.append(record)
            self._enterprises.add(record.credit_code)
            return len(self._records)

    def knows(self, credit_code: str) -> bool:
        with self._lock:
            return credit_code in self._enterprises

    def records_for(self, credit_code: str) -> Sequence[PublicRecord]:
        with self._lock:
            return [r for r in self._records if r.credit_code == credit_code]

    def head(self) -> int:
        with self._lock:
            return len(self._records)

    def published_after(self, cursor: int, *, limit: int) -> tuple[Sequence[PublicRecord], int]:
        with self._lock:
            chunk = self._records[cursor : cursor + limit]
            return chunk, cursor + len(chunk)


def load_public_records(path: Path) -> InMemoryPublicRecords:
    """Read a JSON list of records (`item_id, credit_code, category, sensitivity, source_unit, published_at
    (RFC 3339 UTC), district, industry, title, fields`) into an in-memory source."""
    records = []
    for item in json.loads(path.read_text(encoding="utf-8")):
        records.append(PublicRecord(
            item_id=item["item_id"], credit_code=item["credit_code"], category=item["category"],
            sensitivity=Sensitivity(item.get("sensitivity", "PUBLIC")), source_unit=item["source_unit"],
            published_at=parse_time(item["published_at"]), district=item["district"], industry=item["industry"],
            title=item["title"], fields={str(k): str(v) for k, v in item.get("fields", {}).items()},
        ))
    return InMemoryPublicRecords(records)
