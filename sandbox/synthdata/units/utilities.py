"""Water, power and gas utilities: consumption level, trend and seasonality, late payments; observe activity."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sandbox.synthdata.columns import ID_COLUMN, ColumnSpec, UnitSpec
from sandbox.synthdata.population import Population
from sandbox.synthdata.units.draw import counts, coverage, with_missing

SPEC = UnitSpec(
    name="utilities",
    category="utilities",
    description="Metered water, electricity and gas of the enterprise's premises, last 12 months",
    columns=(
        ColumnSpec("electricity_kwh_12m", "float", "Electricity consumed (kWh)", min=0, max=1e10),
        ColumnSpec("electricity_trend_12m", "float", "Last quarter's electricity over the first quarter's, minus 1",
                   min=-1, max=50),
        ColumnSpec("electricity_cv_monthly", "float", "Coefficient of variation of monthly electricity",
                   min=0, max=10),
        ColumnSpec("electricity_peak_month", "int", "Calendar month of the highest electricity use", min=1, max=12),
        ColumnSpec("water_m3_12m", "float", "Water consumed (m3); missing where the meter is shared",
                   min=0, max=1e9, nullable=True),
        ColumnSpec("gas_m3_12m", "float", "Piped gas consumed (m3); missing for premises without gas",
                   min=0, max=1e9, nullable=True),
        ColumnSpec("late_payments_12m", "int", "Utility bills paid late", min=0, max=36),
        ColumnSpec("disconnection_notices_12m", "int", "Disconnection notices received", min=0, max=12),
    ),
)


def _monthly(base: np.ndarray, amplitude: np.ndarray, trend: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Twelve months of use: an annual cosine cycle (peak in July or January) times a linear trend times noise."""
    n = len(base)
    months = np.arange(12)
    peak = np.where(rng.random(n) < 0.75, 6, 0)  # summer cooling peak for most, winter heating for the rest
    cycle = 1 + amplitude[:, None] * np.cos(2 * np.pi * (months[None, :] - peak[:, None]) / 12)
    drift = 1 + trend[:, None] * (months[None, :] - 5.5) / 11
    noise = np.exp(rng.normal(0, 0.08, (n, 12)))
    return np.clip(base[:, None] / 12 * cycle * np.clip(drift, 0.05, None) * noise, 0, None)


def observe(pop: Population, rng: np.random.Generator) -> pd.DataFrame:
    """Firms renting desks in shared offices have no meters of their own and are unknown here."""
    known = coverage(len(pop), 0.78 + 0.07 * pop.size, rng)
    n = int(known.sum())
    ops = pop.factors["ops"][known]
    fin = pop.factors["fin"][known]
    employees = pop.employees[known]
    base = employees * pop.industry_attr("kwh_per_employee")[known] * np.exp(0.2 * ops + rng.normal(0, 0.4, n))
    trend = 0.2 * ops + rng.normal(0.02, 0.12, n)
    amplitude = np.clip(pop.industry_attr("summer_peak")[known] + rng.normal(0, 0.05, n), 0.0, 0.9)
    monthly = _monthly(base, amplitude, trend, rng)
    total = monthly.sum(axis=1)
    first_q, last_q = monthly[:, :3].sum(axis=1), monthly[:, 9:].sum(axis=1)
    water = employees * 30 * np.exp(0.1 * ops + rng.normal(0, 0.5, n))
    has_gas = rng.random(n) < pop.industry_attr("gas_user")[known]
    gas = np.where(has_gas, employees * 150 * np.exp(0.1 * ops + rng.normal(0, 0.6, n)), np.nan)
    late = counts(np.exp(-1.4 - 0.9 * ops - 0.3 * fin), rng, cap=36)
    notices = counts(np.exp(-3.2 - 1.0 * ops), rng, cap=12)
    return pd.DataFrame({
        ID_COLUMN: pop.code[known],
        "electricity_kwh_12m": np.round(total, 1),
        "electricity_trend_12m": np.round(np.clip(last_q / np.maximum(first_q, 1e-9) - 1, -1, 50), 4),
        "electricity_cv_monthly": np.round(monthly.std(axis=1) / np.maximum(monthly.mean(axis=1), 1e-9), 4),
        "electricity_peak_month": monthly.argmax(axis=1) + 1,
        "water_m3_12m": with_missing(np.round(water, 1), 0.06, rng),
        "gas_m3_12m": np.round(gas, 1),
        "late_payments_12m": late,
        "disconnection_notices_12m": notices,
    })
