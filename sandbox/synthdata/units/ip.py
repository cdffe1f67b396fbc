"""Intellectual-property office: patents, trademarks, pledges, high-tech status (all public registers)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sandbox.synthdata.columns import ID_COLUMN, ColumnSpec, UnitSpec
from sandbox.synthdata.population import Population
from sandbox.synthdata.units.draw import counts, coverage

SPEC = UnitSpec(
    name="ip",
    category="ip",
    description="Patents, trademarks and IP pledges held by the enterprise",
    columns=(
        ColumnSpec("invention_patents", "int", "Granted invention patents in force", sensitivity="PUBLIC",
                   min=0, max=100_000),
        ColumnSpec("utility_model_patents", "int", "Utility-model patents in force", sensitivity="PUBLIC",
                   min=0, max=100_000),
        ColumnSpec("trademarks", "int", "Registered trademarks", sensitivity="PUBLIC", min=0, max=100_000),
        ColumnSpec("ip_pledges_3y", "int", "Patent or trademark pledges registered in 3 years",
                   sensitivity="PUBLIC", min=0, max=1000),
        ColumnSpec("high_tech_certified", "bool", "Certified high-tech enterprise", sensitivity="PUBLIC"),
        ColumnSpec("annuity_lapses_3y", "int", "Patents lapsed for unpaid annual fees in 3 years",
                   sensitivity="PUBLIC", min=0, max=10_000),
    ),
)


def observe(pop: Population, rng: np.random.Generator) -> pd.DataFrame:
    """Innovators hold patents; some other firms hold only a trademark."""
    known = pop.innovator | coverage(len(pop), 0.08, rng)
    n = int(known.sum())
    innov = pop.factors["innov"][known]
    fin = pop.factors["fin"][known]
    scale = np.log1p(pop.employees[known])
    innovator = pop.innovator[known]
    inventions = counts(innovator * np.exp(-1.0 + 0.5 * scale + 0.6 * innov), rng)
    utility = counts(innovator * np.exp(-0.3 + 0.5 * scale + 0.4 * innov), rng)
    trademarks = counts(np.exp(-0.2 + 0.3 * scale + 0.2 * innov), rng) + (~innovator)
    pledges = counts((inventions + utility > 0) * np.exp(-2.2 + 0.3 * scale - 0.3 * fin), rng, cap=1000)
    lapses = counts((inventions + utility) * np.exp(-2.5 - 0.8 * fin), rng)
    high_tech = innovator & (inventions >= 1) & (rng.random(n) < 0.35 + 0.1 * innov)
    return pd.DataFrame({
        ID_COLUMN: pop.code[known],
        "invention_patents": inventions,
        "utility_model_patents": utility,
        "trademarks": trademarks,
        "ip_pledges_3y": pledges,
        "high_tech_certified": high_tech,
        "annuity_lapses_3y": lapses,
    })
