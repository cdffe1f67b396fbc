"""Housing provident fund centre: contributors, contribution rate, arrears, account status; observes workforce."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sandbox.synthdata.columns import ID_COLUMN, ColumnSpec, UnitSpec
from sandbox.synthdata.population import Population
from sandbox.synthdata.units.draw import counts, coverage, sigmoid

STATUSES = ("normal", "suspended", "closed")

SPEC = UnitSpec(
    name="housing_fund",
    category="housing_fund",
    description="Housing provident fund accounts of enterprises that contribute",
    columns=(
        ColumnSpec("contributing_employees", "int", "Employees with fund contributions", min=0, max=100_000),
        ColumnSpec("contribution_rate", "float", "Employer contribution rate (legal range 5%-12%)", min=0.05, max=0.12),
        ColumnSpec("arrears_months_12m", "int", "Months with unpaid contributions in the last 12", min=0, max=12),
        ColumnSpec("account_status", "string", "Status of the enterprise's fund account", allowed=STATUSES),
        ColumnSpec("account_years", "float", "Years since the fund account was opened", min=0, max=60,
                   nullable=True),
    ),
)


def observe(pop: Population, rng: np.random.Generator) -> pd.DataFrame:
    """Contributing is voluntary in practice for many SMEs: larger, steadier firms are likelier to be known."""
    work = pop.factors["work"]
    known = coverage(len(pop), sigmoid(-0.6 + 1.0 * pop.size + 0.6 * work), rng)
    n = int(known.sum())
    work = work[known]
    share = np.clip(0.6 + 0.15 * work + rng.normal(0, 0.15, n), 0.05, 1.0)
    contributors = np.maximum(1, np.round(pop.employees[known] * share)).astype("int64")
    rate = np.clip(np.round(0.07 + 0.015 * work + rng.normal(0, 0.01, n), 2), 0.05, 0.12)
    arrears = counts(np.exp(-2.4 - 1.0 * work), rng, cap=12)
    suspended = rng.random(n) < sigmoid(-3.2 - 1.2 * work + 0.4 * arrears)
    closed = rng.random(n) < sigmoid(-5.0 - 0.8 * work)
    status = np.where(closed, "closed", np.where(suspended, "suspended", "normal")).astype(object)
    account_years = np.clip(pop.age_years[known] * rng.uniform(0.3, 1.0, n), 0, 60)
    account_years = np.where(rng.random(n) < 0.05, np.nan, np.round(account_years, 2))
    return pd.DataFrame({
        ID_COLUMN: pop.code[known],
        "contributing_employees": contributors,
        "contribution_rate": rate,
        "arrears_months_12m": arrears,
        "account_status": status,
        "account_years": account_years,
    })
