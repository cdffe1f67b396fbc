"""Courts and penalty records: lawsuits, enforcement, the dishonest-debtor list, administrative penalties."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from sandbox.synthdata.columns import ID_COLUMN, ColumnSpec, UnitSpec
from sandbox.synthdata.population import Population
from sandbox.synthdata.units.draw import counts, coverage, sigmoid

SPEC = UnitSpec(
    name="court",
    category="court",
    description="Judicial and administrative-penalty records of enterprises that have any, last 3 years",
    columns=(
        ColumnSpec("civil_cases_defendant_3y", "int", "Civil cases with the enterprise as defendant",
                   sensitivity="PUBLIC", min=0, max=10_000),
        ColumnSpec("enforcement_cases_3y", "int", "Enforcement cases against the enterprise", sensitivity="PUBLIC",
                   min=0, max=10_000),
        ColumnSpec("enforcement_outstanding_cny", "float", "Amount still unpaid under enforcement (CNY)",
                   min=0, max=1e11),
        ColumnSpec("dishonest_debtor", "bool", "Listed as a dishonest judgement debtor", sensitivity="PUBLIC"),
        ColumnSpec("consumption_restricted", "bool", "Under a high-consumption restriction order",
                   sensitivity="PUBLIC"),
        ColumnSpec("admin_penalties_3y", "int", "Administrative penalties (all regulators)", sensitivity="PUBLIC",
                   min=0, max=1000),
        ColumnSpec("last_case_date", "date", "Filing date of the most recent case; missing if penalties only",
                   sensitivity="PUBLIC", nullable=True, min=dt.date(1990, 1, 1)),
    ),
)


def observe(pop: Population, rng: np.random.Generator) -> pd.DataFrame:
    """The court unit only knows enterprises with a record; absence means a clean record."""
    legal, fin = pop.factors["legal"], pop.factors["fin"]
    known = coverage(len(pop), sigmoid(-2.0 - 0.9 * legal - 0.4 * fin + 0.3 * pop.size), rng)
    n = int(known.sum())
    legal, fin = legal[known], fin[known]
    scale = np.log1p(pop.employees[known])
    civil = counts(np.exp(-0.3 - 0.6 * legal - 0.3 * fin + 0.2 * scale), rng)
    enforcement = counts(civil * np.exp(-1.0 - 0.6 * legal - 0.4 * fin), rng)
    outstanding = np.where(
        enforcement > 0, enforcement * rng.lognormal(np.log(80_000), 1.0, n) * np.exp(-0.3 * fin), 0.0
    )
    dishonest = (enforcement > 0) & (rng.random(n) < sigmoid(-1.5 - 0.9 * legal - 0.6 * fin))
    restricted = dishonest | ((enforcement > 0) & (rng.random(n) < 0.15))
    penalties = counts(np.exp(-0.6 - 0.5 * legal), rng, cap=1000)
    penalties = np.where(civil == 0, np.maximum(penalties, 1), penalties)  # everyone here has some record
    days_ago = rng.integers(1, 3 * 365, n)
    last_case = np.datetime64(pop.as_of, "D") - days_ago.astype("timedelta64[D]")
    return pd.DataFrame({
        ID_COLUMN: pop.code[known],
        "civil_cases_defendant_3y": civil,
        "enforcement_cases_3y": enforcement,
        "enforcement_outstanding_cny": np.round(outstanding, 2),
        "dishonest_debtor": dishonest,
        "consumption_restricted": restricted,
        "admin_penalties_3y": penalties,
        "last_case_date": pd.Series(last_case).where(civil + enforcement > 0),
    })
