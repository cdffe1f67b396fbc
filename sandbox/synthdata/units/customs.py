"""Customs: import and export values, trade growth, declarations, customs credit class; observes trade health."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sandbox.synthdata.columns import ID_COLUMN, ColumnSpec, UnitSpec
from sandbox.synthdata.population import Population
from sandbox.synthdata.units.draw import counts, coverage, sigmoid

CREDIT_CLASSES = ("advanced_certified", "registered", "dishonest")

SPEC = UnitSpec(
    name="customs",
    category="customs",
    description="Customs declarations of enterprises registered as importers or exporters, last 12 months",
    columns=(
        ColumnSpec("import_value_usd_12m", "float", "Declared import value (USD)", min=0, max=1e11),
        ColumnSpec("export_value_usd_12m", "float", "Declared export value (USD)", min=0, max=1e11),
        ColumnSpec("trade_growth_yoy", "float", "Growth of total trade value on the previous 12 months",
                   min=-1, max=50, nullable=True),
        ColumnSpec("declarations_12m", "int", "Customs declarations filed", min=0, max=1_000_000),
        ColumnSpec("customs_credit_class", "string", "Customs enterprise credit class (published)",
                   sensitivity="PUBLIC", allowed=CREDIT_CLASSES),
        ColumnSpec("customs_penalties_3y", "int", "Customs administrative penalties in 3 years", min=0, max=100),
    ),
)


def observe(pop: Population, rng: np.random.Generator) -> pd.DataFrame:
    """Only traders are registered with customs."""
    known = pop.trader & coverage(len(pop), 0.95, rng)
    n = int(known.sum())
    trade = pop.factors["trade"][known]
    legal = pop.factors["legal"][known]
    usd = pop.revenue[known] / 7.1 * rng.beta(2, 3, n) * np.exp(0.3 * trade + rng.normal(0, 0.3, n))
    export_share = rng.beta(2, 2, n)
    growth = np.exp(0.25 * trade + rng.normal(0, 0.25, n)) - 1
    growth = np.where(pop.age_years[known] < 1.5, np.nan, growth)
    declarations = rng.poisson(usd / rng.lognormal(np.log(40_000), 0.5, n)) + 1
    penalties = counts(np.exp(-2.2 - 0.7 * legal - 0.4 * trade), rng, cap=100)
    advanced = rng.random(n) < sigmoid(-4.0 + 0.8 * pop.size[known] + 0.8 * trade)
    dishonest = rng.random(n) < sigmoid(-4.5 - 1.2 * legal - 0.5 * trade + 0.5 * penalties)
    credit = np.where(dishonest, "dishonest", np.where(advanced, "advanced_certified", "registered")).astype(object)
    return pd.DataFrame({
        ID_COLUMN: pop.code[known],
        "import_value_usd_12m": np.round(usd * (1 - export_share), 2),
        "export_value_usd_12m": np.round(usd * export_share, 2),
        "trade_growth_yoy": np.round(np.clip(growth, -0.99, 50), 4),
        "declarations_12m": declarations,
        "customs_credit_class": credit,
        "customs_penalties_3y": penalties,
    })
