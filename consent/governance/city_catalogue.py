"""The city-wide list: every source unit's catalogue, versioned, and the difference between two versions."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from consent.canonical_json import canonical_json
from consent.governance.catalogue import Catalogue, CatalogueItem
from consent.governance.errors import CatalogueError


@dataclass(frozen=True)
class CityCatalogue:
    """The catalogues of every registered source unit, sorted by source."""

    catalogues: tuple[Catalogue, ...] = ()

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.catalogues, key=lambda c: c.source))
        sources = [c.source for c in ordered]
        if len(set(sources)) != len(sources):
            raise CatalogueError("a source unit appears twice in the city-wide list")
        object.__setattr__(self, "catalogues", ordered)

    def with_source(self, catalogue: Catalogue) -> CityCatalogue:
        """The list with `catalogue` added or replacing that source's previous one."""
        return CityCatalogue(tuple(c for c in self.catalogues if c.source != catalogue.source) + (catalogue,))

    def of(self, source: str) -> Catalogue | None:
        return next((c for c in self.catalogues if c.source == source), None)

    def to_json(self) -> dict[str, Any]:
        return {"sources": [c.to_json() for c in self.catalogues]}

    @property
    def sha256(self) -> str:
        return hashlib.sha256(canonical_json(self.to_json())).hexdigest()

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> CityCatalogue:
        sources = obj.get("sources", [])
        if not isinstance(sources, list):
            raise CatalogueError("`sources` must be a list")
        return cls(tuple(Catalogue.from_json(s) for s in sources))


@dataclass(frozen=True)
class ItemChange:
    """One field of one item that differs between two versions."""

    source: str
    item: str
    field: str
    old: str
    new: str


@dataclass(frozen=True)
class CatalogueDiff:
    """Items added, removed and changed from an old version to a new one."""

    added: tuple[tuple[str, CatalogueItem], ...]
    removed: tuple[tuple[str, CatalogueItem], ...]
    changed: tuple[ItemChange, ...]

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def to_json(self) -> dict[str, Any]:
        return {
            "added": [{"source": s, **i.to_json()} for s, i in self.added],
            "removed": [{"source": s, **i.to_json()} for s, i in self.removed],
            "changed": [{"source": c.source, "item": c.item, "field": c.field, "old": c.old, "new": c.new}
                        for c in self.changed],
        }

    def lines(self) -> Iterable[str]:
        """A human-readable rendering, one change per line (`+`, `-`, `~`)."""
        for source, item in self.added:
            yield f"+ {source} {item.name} [{item.category}, {item.condition.value}] {item.description}"
        for source, item in self.removed:
            yield f"- {source} {item.name} [{item.category}, {item.condition.value}]"
        for change in self.changed:
            yield f"~ {change.source} {change.item} {change.field}: {change.old} -> {change.new}"


def diff_catalogues(old: CityCatalogue, new: CityCatalogue) -> CatalogueDiff:
    """What changed from `old` to `new`, item by item and field by field (sorted, so stable)."""
    def flat(city: CityCatalogue) -> dict[tuple[str, str], CatalogueItem]:
        return {(c.source, i.name): i for c in city.catalogues for i in c.items}

    before, after = flat(old), flat(new)
    added = tuple((s, after[(s, n)]) for s, n in sorted(after.keys() - before.keys()))
    removed = tuple((s, before[(s, n)]) for s, n in sorted(before.keys() - after.keys()))
    changed = []
    for key in sorted(before.keys() & after.keys()):
        a, b = before[key].to_json(), after[key].to_json()
        changed += [ItemChange(key[0], key[1], f, a[f], b[f]) for f in sorted(a) if a[f] != b[f]]
    return CatalogueDiff(added, removed, tuple(changed))
