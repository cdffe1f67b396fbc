"""Governance for the local sandbox: each source unit's approval key and catalogue, and approvals filed through
the coordinator and signed on each unit's side, as a real deployment does them (docs/OPERATIONS.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from consent.governance import reference_categories
from tables import load_schema

SANDBOX_PROJECT = "sandbox"
# The synthetic units' data categories, as codes of the reference list.
CATEGORY_CODES = {"tax": "TAX", "social_insurance": "SOCIAL_INSURANCE", "housing_fund": "HOUSING_FUND",
                  "utilities": "UTILITIES", "customs": "CUSTOMS", "ip": "INTELLECTUAL_PROPERTY",
                  "court": "COURT_ENFORCEMENT", "registration": "REGISTRATION", "platform": "SELF_REPORTED"}
FREQUENCIES = {"REGISTRATION": "irregular", "COURT_ENFORCEMENT": "daily", "INTELLECTUAL_PROPERTY": "monthly"}
ALGORITHMS = {"psi": 0, "secureboost": 1024, "hetero_lr": 1024, "scorecard": 1024, "verification": 0}


def category_code(category: str) -> str:
    code = CATEGORY_CODES.get(category, category.upper())
    return code if code in reference_categories() else "SELF_REPORTED"


def catalogue_items(schema: Path, conditions: Mapping[str, str] | None = None) -> list[dict[str, str]]:
    """One item per declared column: PUBLIC columns unconditional, the others conditional, unless `conditions`
    says otherwise for a column (`"omit"` leaves the column out of the catalogue: never shared)."""
    declared = load_schema(schema)
    items = []
    for column in declared.columns:
        if (conditions or {}).get(column.name) == "omit":
            continue
        code = category_code(column.category)
        sensitivity = "PUBLIC" if column.sensitivity.value == "PUBLIC" else \
            ("PERSONAL" if column.sensitivity.value == "PERSONAL" else "TRADE_SECRET")
        default = "unconditional" if sensitivity == "PUBLIC" else "conditional"
        items.append({"name": column.name, "category": code,
                      "description": column.description or column.name.replace("_", " "),
                      "unit": "CNY" if column.name.endswith("_cny") else "",
                      "update_frequency": FREQUENCIES.get(code, "monthly"), "sensitivity": sensitivity,
                      "condition": (conditions or {}).get(column.name, default)})
    return items


def catalogue_toml(items: Sequence[Mapping[str, str]]) -> list[str]:
    """`[[catalogue.items]]` lines of a node config."""
    import json

    lines = []
    for item in items:
        lines.append("[[catalogue.items]]")
        lines += [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in item.items()]
        lines.append("")
    return lines


@dataclass(frozen=True)
class ApprovalPlan:
    """What the sandbox's operator asks each unit for. `items=None`: every item the catalogue lets be asked."""

    project: str = SANDBOX_PROJECT
    purpose: str = "RISK_MODELLING"
    description: str = "credit-risk models of the local sandbox"
    items: tuple[str, ...] | None = None
    leave_out: tuple[str, ...] = ()
    algorithms: Mapping[str, int] = field(default_factory=lambda: dict(ALGORITHMS))
    institution_kinds: tuple[str, ...] = ("bank", "guarantor", "credit")
    institutions: tuple[str, ...] = ()
    online: bool = True
    rows: int = 10**12
    queries: int = 10**12
    days: int = 365  # valid until this many days from now (negative: already over)
    starts: int = -1  # valid from this many days from now
    counterparties: tuple[str, ...] | None = None  # None: every other party of the federation
    # Units whose approval lets score reasons name their catalogue items; the sandbox's utilities unit keeps
    # the default (its reasons name the category only), so both kinds of reason show.
    name_items: tuple[str, ...] = ("tax", "social_insurance")


def request_terms(source: str, plan: ApprovalPlan, *, catalogue: Sequence[Mapping[str, str]],
                  counterparties: Sequence[str], requested_by: str, now: datetime | None = None) -> dict[str, Any]:
    """The terms the operator files for `source`: JSON-ready, as `xyd approval request` reads them."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    if plan.items is not None:
        items = [i for i in plan.items if i not in plan.leave_out]
    else:
        items = [i["name"] for i in catalogue if i["condition"] == "conditional" and i["name"] not in plan.leave_out]
    return {"source": source, "project": plan.project, "purpose": plan.purpose, "description": plan.description,
            "leader": "platform/main",
            "counterparties": sorted(set(counterparties if plan.counterparties is None else plan.counterparties)
                                     - {source}),
            "items": sorted(items), "algorithms": dict(plan.algorithms),
            "serving": {"online": plan.online, "institutions": list(plan.institutions),
                        "institution_kinds": list(plan.institution_kinds),
                        **({"name_items": True} if source.split("/", 1)[1] in plan.name_items else {})},
            "quotas": {"rows": plan.rows, "queries": plan.queries},
            "not_before": (now + timedelta(days=plan.starts)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "not_after": (now + timedelta(days=plan.days)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "requested_by": requested_by}
