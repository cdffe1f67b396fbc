"""The catalogue: items validated against the reference categories, conditions, the city-wide list and diffs."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consent.governance import (
    CatalogueError,
    CatalogueItem,
    CityCatalogue,
    SharingCondition,
    catalogue_from_config,
    diff_catalogues,
    reference_categories,
)
from consent.governance.catalogue import Catalogue
from consent.governance.categories import parse_categories
from tests.consent.governance_world import CATALOGUE, item

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "reference" / "data_categories.csv"
PACKAGED = Path(__file__).resolve().parents[2] / "consent" / "governance" / "data_categories.csv"


def test_the_packaged_categories_are_the_reference_list() -> None:
    if not SHARED.exists():
        pytest.skip(f"no reference data beside the checkout ({SHARED})")
    assert PACKAGED.read_bytes() == SHARED.read_bytes()
    codes = set(reference_categories())
    assert {"TAX", "SOCIAL_INSURANCE", "COURT_ENFORCEMENT", "SELF_REPORTED"} <= codes and len(codes) == 13


def declared(**changes) -> dict:
    return {"name": "revenue", "category": "TAX", "description": "Declared revenue", "unit": "CNY",
            "update_frequency": "monthly", "sensitivity": "TRADE_SECRET", "condition": "conditional", **changes}


def test_an_item_parses_from_its_declaration() -> None:
    parsed = CatalogueItem.from_json(declared())
    assert parsed.condition is SharingCondition.CONDITIONAL and parsed.to_json() == declared()
    assert CatalogueItem.from_json({k: v for k, v in declared().items() if k != "unit"}).unit == ""


@pytest.mark.parametrize("changes, message", [
    ({"category": "tax"}, "unknown data category"),
    ({"category": "WEATHER"}, "unknown data category"),
    ({"condition": "sometimes"}, "sometimes"),
    ({"update_frequency": "hourly"}, "hourly"),
    ({"sensitivity": "SECRET"}, "sensitivity"),
    ({"name": "bad name"}, "bad item name"),
    ({"description": ""}, "description"),
    ({"colour": "red"}, "unknown fields"),
])
def test_a_malformed_item_is_refused(changes, message) -> None:
    with pytest.raises(CatalogueError, match=message):
        CatalogueItem.from_json(declared(**changes))


def test_a_missing_field_is_refused() -> None:
    body = declared()
    del body["condition"]
    with pytest.raises(CatalogueError, match="missing"):
        CatalogueItem.from_json(body)


def test_the_categories_file_is_checked() -> None:
    with pytest.raises(CatalogueError, match="twice"):
        parse_categories("category,source_unit,default_sensitivity,examples\nTAX,t,PUBLIC,x\nTAX,t,PUBLIC,y\n")
    with pytest.raises(CatalogueError, match="sensitivity"):
        parse_categories("category,source_unit,default_sensitivity,examples\nTAX,t,OPEN,x\n")


def test_config_items_must_be_columns_of_the_table() -> None:
    section = {"items": [declared(), declared(name="vat", condition="not_shared")]}
    catalogue = catalogue_from_config("source/tax", section, columns=["revenue", "vat", "other"])
    assert catalogue.names() == ("revenue", "vat")
    assert catalogue.names(SharingCondition.NOT_SHARED) == ("vat",)
    with pytest.raises(CatalogueError, match="not columns"):
        catalogue_from_config("source/tax", section, columns=["revenue"])
    with pytest.raises(CatalogueError, match="twice"):
        catalogue_from_config("source/tax", {"items": [declared(), declared()]})


def test_an_uncatalogued_column_is_never_shared() -> None:
    assert CATALOGUE.condition_of("no_such_column") is SharingCondition.NOT_SHARED
    assert CATALOGUE.condition_of("a_level") is SharingCondition.UNCONDITIONAL


def test_the_city_list_diff_names_added_removed_and_changed_items() -> None:
    v1 = CityCatalogue((CATALOGUE,))
    changed = CATALOGUE.with_item(item("revenue", "unconditional")).with_item(item("invoices", "conditional"))
    changed = Catalogue(changed.source, tuple(i for i in changed.items if i.name != "vat_paid"))
    other = Catalogue("source/court", (item("cases", "unconditional", category="COURT_ENFORCEMENT",
                                             sensitivity="PUBLIC"),))
    v2 = CityCatalogue((changed, other))
    diff = diff_catalogues(v1, v2)
    assert [(s, i.name) for s, i in diff.added] == [("source/court", "cases"), ("source/tax", "invoices")]
    assert [(s, i.name) for s, i in diff.removed] == [("source/tax", "vat_paid")]
    assert [(c.item, c.field, c.old, c.new) for c in diff.changed] == [
        ("revenue", "condition", "conditional", "unconditional")]
    assert list(diff.lines())[0].startswith("+ source/court cases [COURT_ENFORCEMENT, unconditional]")
    assert CityCatalogue.from_json(v2.to_json()) == v2 and v1.sha256 != v2.sha256


_names = st.sampled_from(["a", "b", "c", "d", "e"])
_conditions = st.sampled_from(list(SharingCondition))
_catalogues = st.dictionaries(_names, _conditions, max_size=5).map(
    lambda d: CityCatalogue((Catalogue("source/tax", tuple(item(n, c) for n, c in d.items())),)))


@settings(max_examples=60, deadline=None)
@given(_catalogues, _catalogues)
def test_diff_is_symmetric_and_empty_only_for_equal_lists(a: CityCatalogue, b: CityCatalogue) -> None:
    forward, backward = diff_catalogues(a, b), diff_catalogues(b, a)
    assert forward.added == backward.removed and forward.removed == backward.added
    assert [(c.item, c.old, c.new) for c in forward.changed] == [(c.item, c.new, c.old) for c in backward.changed]
    assert forward.empty == (a.sha256 == b.sha256)
