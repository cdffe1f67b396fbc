"""Social insurance agency: insured headcount and its trend, contribution base, arrears; observes workforce stability."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from sandbox.synthdata.columns import ID_COLUMN, ColumnSpec, UnitSpec
from sandbox.synthdata.population import Population
from sandbox.synthdata.reference import CONTRIBUTION_BASE_MAX, CONTRIBUTION_BASE_MIN
from sandbox.synthdata.units.draw import counts, coverage, sigmoid, with_missing

SPEC = UnitSpec(
    name="social_insurance",
    category="social_insurance",
    description="Social insurance contributions of the enterprise's employees",
    columns=(
        ColumnSpec("insured_employees", "int", "Employees insured at the reference date", min=0, max=100_000),
        ColumnSpec("insured_change_12m", "float", "Relative change of the insured headcount over 12 months",
                   min=-1, max=20),
        ColumnSpec("avg_contribution_base_cny", "float", "Average monthly contribution base (CNY)",
                   min=CONTRIBUTION_BASE_MIN, max=CONTRIBUTION_BASE_MAX, nullable=True),
        ColumnSpec("arrears_months_12m", "int", "Months with unpaid contributions in the last 12", min=0, max=12),
        ColumnSpec("last_paid_date", "date", "Date of the last contribution paid", min=dt.date(1990, 1, 1)),
    ),
)


def observe(pop: Population, rng: np.random.Generator) -> pd.DataFrame:
    """Micro firms often insure nobody (owner-only) and are then unknown here."""
    work = pop.factors["work"]
    known = coverage(len(pop), sigmoid(1.0 + 1.2 * pop.size + 0.3 * work), rng)
    n = int(known.sum())
    work = work[known]
    ratio = np.clip(0.75 + 0.1 * work + rng.normal(0, 0.12, n), 0.1, 1.0)
    insured = np.maximum(1, np.round(pop.employees[known] * ratio)).astype("int64")
    change = np.exp(0.18 * work + 0.05 * pop.factors["fin"][known] + rng.normal(0, 0.15, n)) - 1
    base = pop.industry_attr("wage")[known] * np.exp(0.12 * work + rng.normal(0, 0.15, n))
    arrears = counts(np.exp(-2.0 - 1.1 * work), rng, cap=12)
    # The last payment lags the reference date by the trailing arrears plus processing delay.
    lag_days = arrears * 30 + rng.integers(0, 25, n)
    last_paid = np.datetime64(pop.as_of, "D") - lag_days.astype("timedelta64[D]")
    return pd.DataFrame({
        ID_COLUMN: pop.code[known],
        "insured_employees": insured,
        "insured_change_12m": np.round(np.clip(change, -0.99, 20), 4),
        "avg_contribution_base_cny": with_missing(
            np.round(np.clip(base, CONTRIBUTION_BASE_MIN, CONTRIBUTION_BASE_MAX), 2), 0.02, rng),
        "arrears_months_12m": arrears,
        "last_paid_date": last_paid,
    })
