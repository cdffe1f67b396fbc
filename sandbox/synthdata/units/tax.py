"""Tax bureau: revenue, taxes paid, arrears, filing discipline and the tax credit rating; observes financial health."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sandbox.synthdata.columns import ID_COLUMN, ColumnSpec, UnitSpec
from sandbox.synthdata.population import Population
from sandbox.synthdata.units.draw import counts, coverage, with_missing

RATINGS = ("A", "B", "M", "C", "D")

SPEC = UnitSpec(
    name="tax",
    category="tax",
    description="Tax bureau records of the last 12 months",
    columns=(
        ColumnSpec("revenue_12m_cny", "float", "Declared operating revenue, last 12 months (CNY)", min=0, max=1e12),
        ColumnSpec("vat_paid_12m_cny", "float", "VAT paid, last 12 months (CNY)", min=0, max=1e11),
        ColumnSpec("income_tax_paid_12m_cny", "float", "Corporate income tax paid (CNY); missing if not yet settled",
                   min=0, max=1e11, nullable=True),
        ColumnSpec("revenue_growth_yoy", "float", "Revenue growth on the previous 12 months; missing for firms under "
                   "two years old", min=-1, max=20, nullable=True),
        ColumnSpec("invoices_issued_12m", "int", "Number of VAT invoices issued", min=0, max=10_000_000),
        ColumnSpec("tax_arrears_months_12m", "int", "Months with overdue tax in the last 12", min=0, max=12),
        ColumnSpec("late_filings_12m", "int", "Late tax returns in the last 12 months", min=0, max=36),
        ColumnSpec("tax_credit_rating", "string", "Tax credit rating (A best, D worst, M new enterprise)",
                   allowed=RATINGS),
        ColumnSpec("a_level_taxpayer", "bool", "On the published list of A-level taxpayers", sensitivity="PUBLIC"),
        ColumnSpec("general_vat_taxpayer", "bool", "General VAT taxpayer (otherwise small-scale)"),
    ),
)


def observe(pop: Population, rng: np.random.Generator) -> pd.DataFrame:
    """Nearly every registered enterprise files taxes; dormant shells are missing."""
    known = coverage(len(pop), 0.97, rng)
    n = int(known.sum())
    fin = pop.factors["fin"][known]
    age = pop.age_years[known]
    # Declared revenue tracks true revenue with reporting noise.
    revenue = pop.revenue[known] * np.exp(rng.normal(0, 0.12, n))
    vat = revenue * pop.industry_attr("vat_rate")[known] * np.exp(rng.normal(0, 0.25, n))
    margin = 0.04 + 0.05 * fin + rng.normal(0, 0.05, n)
    income_tax = np.clip(revenue * margin, 0, None) * 0.2
    growth = np.exp(0.15 * fin + rng.normal(0.03, 0.2, n)) - 1
    growth = np.where(age < 2, np.nan, growth)
    invoices = rng.poisson(revenue / rng.lognormal(np.log(20_000), 0.6, n))
    arrears = counts(np.exp(-1.9 - 1.0 * fin), rng, cap=12)
    late = counts(np.exp(-1.3 - 0.6 * fin), rng, cap=36)
    signal = fin + rng.normal(0, 0.6, n) - 0.4 * arrears
    rating = np.select([signal > 0.9, signal > -0.8, signal > -2.0], ["A", "B", "C"], "D").astype(object)
    rating[age < 1] = "M"
    return pd.DataFrame({
        ID_COLUMN: pop.code[known],
        "revenue_12m_cny": np.round(revenue, 2),
        "vat_paid_12m_cny": np.round(vat, 2),
        "income_tax_paid_12m_cny": with_missing(np.round(income_tax, 2), 0.04, rng),
        "revenue_growth_yoy": np.round(np.clip(growth, -0.99, 20), 4),
        "invoices_issued_12m": invoices,
        "tax_arrears_months_12m": arrears,
        "late_filings_12m": late,
        "tax_credit_rating": rating,
        "a_level_taxpayer": rating == "A",
        "general_vat_taxpayer": revenue > 5_000_000 * np.exp(rng.normal(0, 0.3, n)),
    })
