"""A source unit's catalogue: the data items (columns) it declares, each with its sharing condition.

Only names, categories, descriptions and conditions: never a value. The condition decides what any task may
do with an item:
    unconditional  (无条件共享) usable by every task the unit approved, named in its approval or not
    conditional    (有条件共享) usable only by a task whose approval names it
    not_shared     (不予共享)   never leaves the node in any form (no value, histogram, split or aggregate)
A column the catalogue does not list counts as not_shared.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from consent.canonical_json import canonical_json
from consent.governance.categories import SENSITIVITIES, DataCategory, reference_categories
from consent.governance.errors import CatalogueError

ITEM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
PARTY = re.compile(r"^[a-z][a-z0-9]*/[a-z0-9][a-z0-9._-]{0,63}$")
_ITEM_KEYS = {"name", "category", "description", "unit", "update_frequency", "sensitivity", "condition"}
MAX_TEXT = 500


class SharingCondition(StrEnum):
    UNCONDITIONAL = "unconditional"
    CONDITIONAL = "conditional"
    NOT_SHARED = "not_shared"


class UpdateFrequency(StrEnum):
    REAL_TIME = "real_time"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"
    IRREGULAR = "irregular"


def _text(value: Any, what: str, *, required: bool = True) -> str:
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > MAX_TEXT:
        raise CatalogueError(f"{what} must be a {'non-empty ' if required else ''}string of at most "
                             f"{MAX_TEXT} characters")
    return value


@dataclass(frozen=True)
class CatalogueItem:
    """One data item of a source unit. `category` is a code of the reference list (e.g. TAX)."""

    name: str
    category: str
    description: str
    unit: str
    update_frequency: UpdateFrequency
    sensitivity: str
    condition: SharingCondition

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not ITEM_NAME.match(self.name):
            raise CatalogueError(f"bad item name {self.name!r}")
        _text(self.description, f"item {self.name}: description")
        _text(self.unit, f"item {self.name}: unit", required=False)
        try:
            object.__setattr__(self, "update_frequency", UpdateFrequency(self.update_frequency))
            object.__setattr__(self, "condition", SharingCondition(self.condition))
        except ValueError as exc:
            raise CatalogueError(f"item {self.name}: {exc}") from None
        if self.sensitivity not in SENSITIVITIES:
            raise CatalogueError(f"item {self.name}: sensitivity must be one of {list(SENSITIVITIES)}")

    def check_category(self, categories: Mapping[str, DataCategory]) -> None:
        if self.category not in categories:
            raise CatalogueError(f"item {self.name}: unknown data category {self.category!r} "
                                 f"(known: {', '.join(sorted(categories))})")

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "category": self.category, "description": self.description, "unit": self.unit,
                "update_frequency": self.update_frequency.value, "sensitivity": self.sensitivity,
                "condition": self.condition.value}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any], *, categories: Mapping[str, DataCategory] | None = None
                  ) -> CatalogueItem:
        """An item from its declaration; `unit` may be omitted (dimensionless), the rest is required."""
        if not isinstance(obj, Mapping):
            raise CatalogueError("a catalogue item must be a table of fields")
        unknown = set(obj) - _ITEM_KEYS
        if unknown:
            raise CatalogueError(f"catalogue item: unknown fields {sorted(unknown)}")
        missing = (_ITEM_KEYS - {"unit"}) - set(obj)
        if missing:
            raise CatalogueError(f"catalogue item {obj.get('name', '?')!r}: missing {sorted(missing)}")
        item = cls(name=obj["name"], category=obj["category"], description=obj["description"],
                   unit=obj.get("unit", ""), update_frequency=obj["update_frequency"],
                   sensitivity=obj["sensitivity"], condition=obj["condition"])
        item.check_category(categories if categories is not None else reference_categories())
        return item


@dataclass(frozen=True)
class Catalogue:
    """The items one source unit declares, by name (sorted)."""

    source: str
    items: tuple[CatalogueItem, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.source, str) or not PARTY.match(self.source):
            raise CatalogueError(f"bad source identity {self.source!r}")
        ordered = tuple(sorted(self.items, key=lambda i: i.name))
        names = [i.name for i in ordered]
        if len(set(names)) != len(names):
            raise CatalogueError(f"{self.source}: an item is declared twice")
        object.__setattr__(self, "items", ordered)
        object.__setattr__(self, "_by_name", {i.name: i for i in ordered})

    def item(self, name: str) -> CatalogueItem | None:
        return self._by_name.get(name)  # type: ignore[attr-defined]

    def condition_of(self, name: str) -> SharingCondition:
        """The item's condition; an item not catalogued is never shared."""
        item = self.item(name)
        return SharingCondition.NOT_SHARED if item is None else item.condition

    def names(self, *conditions: SharingCondition) -> tuple[str, ...]:
        """Item names with one of `conditions` (all items if none given)."""
        return tuple(i.name for i in self.items if not conditions or i.condition in conditions)

    def with_item(self, item: CatalogueItem) -> Catalogue:
        """A new catalogue with `item` added or replacing the item of the same name (an accepted expansion)."""
        return replace(self, items=tuple(i for i in self.items if i.name != item.name) + (item,))

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "items": [i.to_json() for i in self.items]}

    @property
    def sha256(self) -> str:
        return hashlib.sha256(canonical_json(self.to_json())).hexdigest()

    @classmethod
    def from_json(cls, obj: Mapping[str, Any], *, categories: Mapping[str, DataCategory] | None = None
                  ) -> Catalogue:
        items = obj.get("items", [])
        if not isinstance(items, list):
            raise CatalogueError("catalogue `items` must be a list")
        return cls(str(obj.get("source", "")), tuple(CatalogueItem.from_json(i, categories=categories)
                                                     for i in items))


def catalogue_from_config(source: str, section: Mapping[str, Any], *, columns: Iterable[str] | None = None,
                          categories: Mapping[str, DataCategory] | None = None) -> Catalogue:
    """The `[catalogue]` section of a source node's config (`[[catalogue.items]]` entries).

    With `columns`, every item must name a column of the node's table: a catalogue cannot promise data the
    node does not hold.
    """
    catalogue = Catalogue.from_json({"source": source, "items": section.get("items", [])}, categories=categories)
    if columns is not None:
        unknown = sorted(set(catalogue.names()) - set(columns))
        if unknown:
            raise CatalogueError(f"{source}: catalogue items {unknown} are not columns of the node's table")
    return catalogue
