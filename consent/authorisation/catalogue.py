"""A source node's declaration of the fields it can answer about: category, sensitivity, type and period.

The gate maps a question's field to its category here to decide whether the artefact's scope covers it;
a field the catalogue does not list is never answered.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from consent.authorisation.errors import InvalidTerms
from consent.authorisation.terms import DATA_ITEM, Sensitivity, data_item, parse_data_item  # noqa: F401 (re-exported)

FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
class ValueType(StrEnum):
    """The type of a field's values, which decides the questions it admits."""

    NUMBER = "number"
    STRING = "string"
    BOOL = "bool"


@dataclass(frozen=True)
class FieldSpec:
    """One answerable field. `period` (e.g. "2025") is checked against the artefact's data range."""

    name: str
    category: str
    sensitivity: Sensitivity
    value_type: ValueType
    period: str | None = None

    def __post_init__(self) -> None:
        if not FIELD_NAME.match(self.name):
            raise InvalidTerms(f"bad field name {self.name!r}")
        object.__setattr__(self, "sensitivity", Sensitivity(self.sensitivity))
        object.__setattr__(self, "value_type", ValueType(self.value_type))


class FieldCatalogue:
    """The fields one source node serves, by name."""

    def __init__(self, specs: Iterable[FieldSpec]) -> None:
        self._specs: dict[str, FieldSpec] = {}
        for spec in specs:
            if spec.name in self._specs:
                raise InvalidTerms(f"field {spec.name} declared twice")
            self._specs[spec.name] = spec

    def get(self, name: str) -> FieldSpec | None:
        return self._specs.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self):
        return iter(self._specs.values())

    def to_json(self) -> list[dict[str, str | None]]:
        """The published form: name, category, sensitivity, value type and period of every field, by name."""
        return [{"name": f.name, "category": f.category, "sensitivity": f.sensitivity.value,
                 "value_type": f.value_type.value, "period": f.period} for f in sorted(self, key=lambda f: f.name)]
