"""The data categories a catalogue item may belong to: the policy's list for the credit-information database.

`data_categories.csv` is a copy of `shared/data/reference/data_categories.csv` (a test checks they agree):
category code, the unit that holds it, its default sensitivity and examples.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

from consent.governance.errors import CatalogueError

SENSITIVITIES = ("PUBLIC", "TRADE_SECRET", "PERSONAL")


@dataclass(frozen=True)
class DataCategory:
    """One category of the reference list."""

    code: str
    source_unit: str
    default_sensitivity: str
    examples: str


def parse_categories(text: str) -> dict[str, DataCategory]:
    """Categories by code from the CSV text; raises `CatalogueError` on a malformed file."""
    rows = list(csv.DictReader(text.splitlines()))
    found: dict[str, DataCategory] = {}
    for row in rows:
        try:
            category = DataCategory(row["category"].strip(), row["source_unit"].strip(),
                                    row["default_sensitivity"].strip(), row["examples"].strip())
        except (KeyError, AttributeError) as exc:
            raise CatalogueError(f"data categories file: missing column {exc}") from None
        if category.default_sensitivity not in SENSITIVITIES:
            raise CatalogueError(f"data categories file: {category.code} has sensitivity "
                                 f"{category.default_sensitivity!r}")
        if category.code in found:
            raise CatalogueError(f"data categories file: {category.code} listed twice")
        found[category.code] = category
    if not found:
        raise CatalogueError("data categories file lists no category")
    return found


@cache
def reference_categories() -> dict[str, DataCategory]:
    """The categories shipped with the package."""
    text = resources.files("consent.governance").joinpath("data_categories.csv").read_text(encoding="utf-8")
    return parse_categories(text)
