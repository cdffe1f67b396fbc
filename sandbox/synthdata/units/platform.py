"""The platform's own table: registration facts (public), its loan history with the firm, and the default label."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from sandbox.synthdata.columns import ID_COLUMN, ColumnSpec, UnitSpec
from sandbox.synthdata.population import Population
from sandbox.synthdata.reference import DISTRICTS, ENTERPRISE_TYPES, INDUSTRIES, SIZE_CLASSES
from sandbox.synthdata.units.draw import counts

LABEL_COLUMN = "default"

SPEC = UnitSpec(
    name="platform",
    category="platform",
    description="Enterprises that applied for credit on the platform, with the outcome of their loan",
    columns=(
        ColumnSpec("district", "string", "Registration district (division code)", sensitivity="PUBLIC",
                   category="registration", allowed=tuple(DISTRICTS)),
        ColumnSpec("industry", "string", "Industry of the main business", sensitivity="PUBLIC",
                   category="registration", allowed=tuple(i.name for i in INDUSTRIES)),
        ColumnSpec("size_class", "string", "Enterprise size class", sensitivity="PUBLIC", category="registration",
                   allowed=tuple(s.name for s in SIZE_CLASSES)),
        ColumnSpec("enterprise_type", "string", "Legal form", sensitivity="PUBLIC", category="registration",
                   allowed=tuple(ENTERPRISE_TYPES)),
        ColumnSpec("established_date", "date", "Date of establishment", sensitivity="PUBLIC",
                   category="registration", min=dt.date(1980, 1, 1)),
        ColumnSpec("registered_capital_cny", "float", "Registered capital (CNY)", sensitivity="PUBLIC",
                   category="registration", min=0, max=1e12),
        ColumnSpec("legal_rep_changes_3y", "int", "Changes of legal representative in 3 years", sensitivity="PUBLIC",
                   category="registration", min=0, max=50),
        ColumnSpec("prior_loans_platform", "int", "Loans obtained earlier through the platform", min=0, max=100),
        ColumnSpec("prior_overdue_platform", "int", "Earlier platform loans that went overdue", min=0, max=100),
        ColumnSpec("requested_amount_cny", "float", "Amount of the current loan application (CNY)", min=0, max=1e10),
        ColumnSpec(LABEL_COLUMN, "int", "1 if the loan defaulted (90+ days overdue) within 12 months", min=0, max=1,
                   category="label"),
    ),
)


def observe(pop: Population, rng: np.random.Generator, label: np.ndarray) -> pd.DataFrame:
    """Every platform customer, none of the outsiders."""
    known = pop.on_platform
    n = int(known.sum())
    plat = pop.factors["plat"][known]
    legal = pop.factors["legal"][known]
    employees = pop.employees[known]
    capital = employees * 100_000 * np.exp(rng.normal(0, 1.0, n))
    capital = np.round(capital, -4)  # registered capital is declared in round sums
    prior = counts(np.clip(pop.age_years[known], 0, 10) * 0.25, rng, cap=100)
    overdue = np.minimum(prior, counts(prior * np.exp(-1.8 - 0.9 * plat), rng))
    rep_changes = counts(np.exp(-1.6 - 0.35 * legal - 0.25 * plat), rng, cap=50)
    requested = np.round(pop.revenue[known] * rng.uniform(0.05, 0.25, n), -3)
    return pd.DataFrame({
        ID_COLUMN: pop.code[known],
        "district": pop.district[known],
        "industry": np.array([i.name for i in INDUSTRIES], dtype=object)[pop.industry[known]],
        "size_class": np.array([s.name for s in SIZE_CLASSES], dtype=object)[pop.size[known]],
        "enterprise_type": pop.enterprise_type[known],
        "established_date": pop.established[known],
        "registered_capital_cny": capital,
        "legal_rep_changes_3y": rep_changes,
        "prior_loans_platform": prior,
        "prior_overdue_platform": overdue,
        "requested_amount_cny": requested,
        LABEL_COLUMN: label[known],
    })
