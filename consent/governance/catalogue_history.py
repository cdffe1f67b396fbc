"""The versioned city-wide list: a new version whenever a unit's catalogue changes, never rewritten."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, func, insert, select
from sqlalchemy.exc import IntegrityError

from consent.audit.events import AuditEvent, EventKind
from consent.authorisation.codec import parse_canonical
from consent.canonical_json import canonical_json
from consent.governance.city_catalogue import CityCatalogue
from consent.governance.errors import CatalogueError
from consent.governance.registry_schema import catalogue_versions, registry_metadata
from consent.governance.store import from_epoch, to_epoch

AuditAppend = Callable[[Connection, AuditEvent], object]


@dataclass(frozen=True)
class CatalogueVersion:
    version: int
    catalogue: CityCatalogue
    sha256: str
    cause: str
    created_at: datetime


class CatalogueHistory:
    """Every version of the city-wide list, numbered from 1. `audit` appends a leaf in the same transaction."""

    def __init__(self, engine: Engine, *, audit: AuditAppend | None = None) -> None:
        self._engine = engine
        self._audit = audit

    def create_schema(self) -> None:
        registry_metadata.create_all(self._engine, tables=[catalogue_versions])

    def update(self, change: Callable[[CityCatalogue], CityCatalogue], *, actor: str, cause: str, now: datetime
               ) -> tuple[CatalogueVersion, bool]:
        """Apply `change` to the latest list; store a new version only if the list changed. Returns the version
        in force and whether it is new. Concurrent updates each land on their own version (retried)."""
        for _ in range(20):
            current = self.get()
            base = current.catalogue if current is not None else CityCatalogue()
            proposed = change(base)
            if current is not None and proposed.sha256 == current.sha256:
                return current, False
            version = 1 if current is None else current.version + 1
            try:
                with self._engine.begin() as conn:
                    conn.execute(insert(catalogue_versions).values(
                        version=version, sha256=proposed.sha256, content=canonical_json(proposed.to_json()),
                        cause=cause[:200], created_at=to_epoch(now)))
                    if self._audit is not None:
                        self._audit(conn, AuditEvent(kind=EventKind.CATALOGUE_PUBLISHED, occurred_at=now, actor=actor,
                                                     digests={"catalogue": proposed.sha256}))
            except IntegrityError:
                continue  # another writer took this version number: apply the change to its list
            return CatalogueVersion(version, proposed, proposed.sha256, cause[:200], now), True
        raise CatalogueError("the city-wide list kept changing under this update")

    def get(self, version: int | None = None) -> CatalogueVersion | None:
        """A version (the latest if None), or None if there is no such version."""
        with self._engine.connect() as conn:
            if version is None:
                version = conn.execute(select(func.max(catalogue_versions.c.version))).scalar()
                if version is None:
                    return None
            row = conn.execute(select(catalogue_versions).where(catalogue_versions.c.version == version)).first()
        if row is None:
            return None
        return CatalogueVersion(row.version, CityCatalogue.from_json(parse_canonical(bytes(row.content))), row.sha256,
                                row.cause, from_epoch(row.created_at))

    def versions(self) -> list[tuple[int, str, str, datetime]]:
        """(version, sha256, cause, created_at) of every version, oldest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(catalogue_versions.c.version, catalogue_versions.c.sha256,
                                       catalogue_versions.c.cause, catalogue_versions.c.created_at)
                                .order_by(catalogue_versions.c.version)).all()
        return [(r.version, r.sha256, r.cause, from_epoch(r.created_at)) for r in rows]
