"""The enterprises of the synthetic city: identity, registration facts, size, and their hidden latent factors.

Each enterprise carries seven latent factors, each standard normal, that the source units observe partially:
financial health (tax), workforce stability (social insurance, housing fund), operating activity (utilities),
legal compliance (courts), trade health (customs), innovation (IP) and platform relationship (platform).
All share a common "management quality" component with weight sqrt(COMMON_SHARE), so units are correlated but
each still holds information the others lack.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

import numpy as np

from consent.credit_code import generate_credit_code
from sandbox.synthdata.reference import DISTRICTS, ENTERPRISE_TYPES, INDUSTRIES, SIZE_CLASSES

FACTORS = ("fin", "work", "ops", "legal", "trade", "innov", "plat")
# Share of each factor's variance that is the common component.
COMMON_SHARE = 0.3


@dataclass(frozen=True, eq=False)
class Population:
    """Column arrays over every enterprise (platform customers first, then outsiders known only to units)."""

    as_of: dt.date
    code: np.ndarray  # unified social credit codes (object array of str)
    on_platform: np.ndarray  # bool: the enterprise is a platform customer (has a label)
    district: np.ndarray  # 6-digit division code (object array of str)
    industry: np.ndarray  # index into INDUSTRIES
    size: np.ndarray  # index into SIZE_CLASSES
    employees: np.ndarray  # true headcount (int)
    revenue: np.ndarray  # true annual revenue (CNY)
    age_years: np.ndarray  # years since establishment at `as_of`
    enterprise_type: np.ndarray  # object array of str
    trader: np.ndarray  # bool: imports or exports
    innovator: np.ndarray  # bool: holds intellectual property
    factors: dict[str, np.ndarray]  # latent factors, standard normal

    def __len__(self) -> int:
        return len(self.code)

    def industry_attr(self, name: str) -> np.ndarray:
        """Per-enterprise value of an Industry attribute (e.g. "wage")."""
        return np.array([getattr(i, name) for i in INDUSTRIES])[self.industry]

    @property
    def established(self) -> np.ndarray:
        """Establishment dates (datetime64[D])."""
        days = np.round(self.age_years * 365.25).astype("int64")
        return np.datetime64(self.as_of, "D") - days.astype("timedelta64[D]")


def _unique_codes(count: int, districts: np.ndarray, code_rng: random.Random) -> np.ndarray:
    seen: set[str] = set()
    codes = []
    for district in districts:
        code = generate_credit_code(code_rng, district=str(district))
        while code in seen:  # a collision is rare (~1e-5 per code) but codes must be unique
            code = generate_credit_code(code_rng, district=str(district))
        seen.add(code)
        codes.append(code)
    return np.array(codes, dtype=object)


def build_population(platform: int, outsiders: int, rng: np.random.Generator, code_rng: random.Random,
                     as_of: dt.date) -> Population:
    """Draw `platform` platform customers and `outsiders` enterprises unknown to the platform."""
    n = platform + outsiders
    district_names = np.array(list(DISTRICTS), dtype=object)
    district = district_names[rng.choice(len(district_names), size=n, p=np.array(list(DISTRICTS.values())))]
    industry = rng.choice(len(INDUSTRIES), size=n, p=np.array([i.share for i in INDUSTRIES]))
    size = rng.choice(len(SIZE_CLASSES), size=n, p=np.array([s.share for s in SIZE_CLASSES]))
    median = np.array([s.median_employees for s in SIZE_CLASSES])[size]
    employees = np.clip(
        np.round(median * rng.lognormal(0.0, 0.55, n)),
        np.array([s.min_employees for s in SIZE_CLASSES])[size],
        np.array([s.max_employees for s in SIZE_CLASSES])[size],
    ).astype("int64")
    # Firm age: log-normal around 6 years, larger firms older; at least one month.
    age_years = np.clip(rng.lognormal(np.log(6.0) + 0.25 * size, 0.75, n), 0.1, 40.0)
    type_names = np.array(list(ENTERPRISE_TYPES), dtype=object)
    enterprise_type = type_names[rng.choice(len(type_names), size=n, p=np.array(list(ENTERPRISE_TYPES.values())))]
    trader_p = np.array([i.trader for i in INDUSTRIES])[industry] * (0.7 + 0.4 * size)
    innov_p = np.array([i.innovator for i in INDUSTRIES])[industry] * (0.8 + 0.3 * size)
    trader = rng.random(n) < np.clip(trader_p, 0, 0.95)
    innovator = rng.random(n) < np.clip(innov_p, 0, 0.95)
    common = rng.standard_normal(n)
    factors = {
        name: np.sqrt(COMMON_SHARE) * common + np.sqrt(1 - COMMON_SHARE) * rng.standard_normal(n) for name in FACTORS
    }
    revenue_per_employee = np.array([i.revenue_per_employee for i in INDUSTRIES])[industry]
    revenue = employees * revenue_per_employee * np.exp(0.3 * factors["fin"] + rng.normal(0.0, 0.45, n))
    on_platform = np.zeros(n, dtype=bool)
    on_platform[:platform] = True
    return Population(
        as_of=as_of,
        code=_unique_codes(n, district, code_rng),
        on_platform=on_platform,
        district=district,
        industry=industry,
        size=size,
        employees=employees,
        revenue=revenue,
        age_years=age_years,
        enterprise_type=enterprise_type,
        trader=trader,
        innovator=innovator,
        factors=factors,
    )
