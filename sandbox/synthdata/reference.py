"""Reference data of the synthetic city: districts, industries and firm size classes, with the numbers that drive
the generative model. The figures are plausible orders of magnitude for a Chinese provincial capital, not
statistics of any real place.
"""

from __future__ import annotations

from dataclasses import dataclass

# Districts of Hangzhou (GB/T 2260 codes after the 2021 re-division) and the share of enterprises registered there.
DISTRICTS: dict[str, float] = {
    "330102": 0.10,  # 上城区
    "330105": 0.09,  # 拱墅区
    "330106": 0.12,  # 西湖区
    "330108": 0.11,  # 滨江区
    "330109": 0.13,  # 萧山区
    "330110": 0.14,  # 余杭区
    "330111": 0.07,  # 富阳区
    "330112": 0.05,  # 临安区
    "330113": 0.07,  # 临平区
    "330114": 0.06,  # 钱塘区
    "330122": 0.02,  # 桐庐县
    "330127": 0.02,  # 淳安县
    "330182": 0.02,  # 建德市
}


@dataclass(frozen=True)
class Industry:
    """An industry and how it shapes its firms.

    share: fraction of enterprises; trader: chance a firm imports/exports; innovator: chance it holds IP;
    revenue_per_employee: median annual revenue per employee (CNY); vat_rate: effective VAT burden on revenue;
    wage: median monthly contribution base (CNY); kwh_per_employee: annual electricity per employee;
    summer_peak: amplitude of the seasonal electricity swing; gas_user: chance the firm uses piped gas;
    risk: additive log-odds of default (industry cyclicality).
    """

    name: str
    share: float
    trader: float
    innovator: float
    revenue_per_employee: float
    vat_rate: float
    wage: float
    kwh_per_employee: float
    summer_peak: float
    gas_user: float
    risk: float


INDUSTRIES: tuple[Industry, ...] = (
    Industry("manufacturing", 0.21, 0.35, 0.35, 600_000, 0.030, 6500, 9000, 0.15, 0.55, 0.20),
    Industry("wholesale_retail", 0.24, 0.18, 0.05, 1_200_000, 0.015, 6000, 1500, 0.20, 0.15, 0.10),
    Industry("construction", 0.08, 0.02, 0.08, 700_000, 0.025, 7000, 1200, 0.10, 0.10, 0.40),
    Industry("information_technology", 0.10, 0.06, 0.60, 500_000, 0.035, 12000, 1800, 0.25, 0.05, -0.15),
    Industry("accommodation_catering", 0.09, 0.00, 0.02, 250_000, 0.025, 5000, 4000, 0.30, 0.95, 0.45),
    Industry("transport_logistics", 0.07, 0.25, 0.05, 450_000, 0.025, 6500, 2500, 0.10, 0.20, 0.15),
    Industry("business_services", 0.11, 0.04, 0.15, 400_000, 0.035, 8000, 1500, 0.20, 0.05, 0.00),
    Industry("agriculture", 0.04, 0.12, 0.10, 300_000, 0.005, 4800, 3000, 0.05, 0.10, 0.25),
    Industry("scientific_research", 0.06, 0.05, 0.75, 450_000, 0.035, 11000, 2500, 0.25, 0.10, -0.20),
)


@dataclass(frozen=True)
class SizeClass:
    """A firm size class: share of firms, median headcount and the headcount range it spans."""

    name: str
    share: float
    median_employees: float
    min_employees: int
    max_employees: int


SIZE_CLASSES: tuple[SizeClass, ...] = (
    SizeClass("micro", 0.68, 5, 1, 19),
    SizeClass("small", 0.26, 35, 10, 99),
    SizeClass("medium", 0.06, 160, 50, 999),
)

ENTERPRISE_TYPES: dict[str, float] = {
    "limited_liability": 0.82,
    "joint_stock": 0.05,
    "sole_proprietorship": 0.08,
    "partnership": 0.05,
}

# Bounds of the monthly social-insurance contribution base (CNY): plausible provincial floor and ceiling.
CONTRIBUTION_BASE_MIN = 4462.0
CONTRIBUTION_BASE_MAX = 24930.0
