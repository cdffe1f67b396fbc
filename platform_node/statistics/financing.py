"""The first-loan and renewal centre's financing figures (增量、扩面、提质、降价), computed from banks' feedback.

Pure: rows in, figures out, no database. One row per lending decision a bank reported on a use
(`POST /v1/uses/{use_id}/feedback`, `type: decision`). The definitions, which `docs/API.md` repeats:

- decisions: decisions reported; loans: the GRANTED ones; approval rate = loans / decisions;
- amount: the sum of granted amounts (CNY); first loans / renewals: grants the bank marked `first_loan` true /
  false (unmarked ones are counted as `loan_kind_unreported`); credit / secured: grants marked `secured`
  false / true (unmarked: `security_unreported`);
- average rate: the amount-weighted mean annual rate of the loans (sum of rate x amount / sum of amount);
- decision days: from the score look-up (the use) to the reported decision, mean and median over decisions;
- enterprises served: distinct enterprises with a loan; first-loan enterprises: those of them with a first
  loan; first-loan rate = first-loan enterprises / enterprises served;
- month: the decision's calendar month in China Standard Time (UTC+8, no daylight saving).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum

CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")
_RATE_PLACES = Decimal("0.000001")
_CNY_PLACES = Decimal("0.01")


class Dimension(StrEnum):
    """What the figures can be broken down by."""

    DISTRICT = "district"
    INDUSTRY = "industry"
    BANK = "bank"
    MONTH = "month"


@dataclass(frozen=True)
class DecisionRow:
    """One reported lending decision with what the figures need (amount in fen, so sums are exact)."""

    use_id: str
    institution_id: str
    credit_code: str
    district: str
    industry: str
    requested_at: datetime
    decided_at: datetime
    granted: bool
    amount_fen: int | None = None
    annual_rate: Decimal | None = None
    first_loan: bool | None = None
    secured: bool | None = None

    def key(self, dimension: Dimension) -> str:
        if dimension is Dimension.DISTRICT:
            return self.district
        if dimension is Dimension.INDUSTRY:
            return self.industry
        if dimension is Dimension.BANK:
            return self.institution_id
        return month_of(self.decided_at)


def month_of(moment: datetime) -> str:
    """`YYYY-MM` of a moment in China Standard Time."""
    return moment.astimezone(CHINA_STANDARD_TIME).strftime("%Y-%m")


@dataclass(frozen=True)
class FinancingFigures:
    """The figures of one set of decisions (the whole filter, or one group of a breakdown)."""

    decisions: int
    loans: int
    approval_rate: float | None
    amount_cny: Decimal
    first_loans: int
    first_loan_amount_cny: Decimal
    renewals: int
    renewal_amount_cny: Decimal
    loan_kind_unreported: int
    credit_loans: int
    credit_amount_cny: Decimal
    secured_loans: int
    secured_amount_cny: Decimal
    security_unreported: int
    average_rate: Decimal | None
    mean_decision_days: float | None
    median_decision_days: float | None
    enterprises_served: int
    first_loan_enterprises: int
    first_loan_rate: float | None


@dataclass(frozen=True)
class Group:
    key: str
    figures: FinancingFigures


@dataclass(frozen=True)
class FinancingReport:
    totals: FinancingFigures
    breakdowns: dict[Dimension, list[Group]]


def _cny(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(_CNY_PLACES)


def _ratio(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 6)


def figures(rows: Iterable[DecisionRow]) -> FinancingFigures:
    """The figures of these decisions (see the module docstring for each definition)."""
    rows = list(rows)
    loans = [r for r in rows if r.granted]
    amount = sum((r.amount_fen or 0) for r in loans)

    def count_and_fen(keep: Callable[[DecisionRow], bool]) -> tuple[int, int]:
        chosen = [r for r in loans if keep(r)]
        return len(chosen), sum((r.amount_fen or 0) for r in chosen)

    first, first_fen = count_and_fen(lambda r: r.first_loan is True)
    renewals, renewal_fen = count_and_fen(lambda r: r.first_loan is False)
    credit, credit_fen = count_and_fen(lambda r: r.secured is False)
    secured, secured_fen = count_and_fen(lambda r: r.secured is True)
    weighted = [(r.annual_rate, r.amount_fen) for r in loans if r.annual_rate is not None and r.amount_fen]
    weight = sum(fen for _, fen in weighted)
    average_rate = None if weight == 0 else (
        sum(rate * fen for rate, fen in weighted) / weight).quantize(_RATE_PLACES, ROUND_HALF_EVEN)
    days = [(r.decided_at - r.requested_at).total_seconds() / 86_400 for r in rows]
    served = {r.credit_code for r in loans}
    first_served = {r.credit_code for r in loans if r.first_loan is True}
    return FinancingFigures(
        decisions=len(rows), loans=len(loans), approval_rate=_ratio(len(loans), len(rows)), amount_cny=_cny(amount),
        first_loans=first, first_loan_amount_cny=_cny(first_fen), renewals=renewals,
        renewal_amount_cny=_cny(renewal_fen), loan_kind_unreported=len(loans) - first - renewals,
        credit_loans=credit, credit_amount_cny=_cny(credit_fen), secured_loans=secured,
        secured_amount_cny=_cny(secured_fen), security_unreported=len(loans) - credit - secured,
        average_rate=average_rate,
        mean_decision_days=round(statistics.fmean(days), 3) if days else None,
        median_decision_days=round(statistics.median(days), 3) if days else None,
        enterprises_served=len(served), first_loan_enterprises=len(first_served),
        first_loan_rate=_ratio(len(first_served), len(served)),
    )


def breakdown(rows: Iterable[DecisionRow], dimension: Dimension) -> list[Group]:
    """The figures per value of `dimension`, ordered by that value."""
    grouped: dict[str, list[DecisionRow]] = defaultdict(list)
    for row in rows:
        grouped[row.key(dimension)].append(row)
    return [Group(key, figures(grouped[key])) for key in sorted(grouped)]


def financing_report(rows: Sequence[DecisionRow],
                     dimensions: Sequence[Dimension] = tuple(Dimension)) -> FinancingReport:
    """Totals and one breakdown per dimension."""
    return FinancingReport(figures(rows), {d: breakdown(rows, d) for d in dimensions})


# The order of the figures in tables and CSV, and each figure's column name.
FIGURE_FIELDS: tuple[str, ...] = tuple(FinancingFigures.__dataclass_fields__)


def figure_values(figures_: FinancingFigures) -> list[str]:
    """Each figure as text, in `FIGURE_FIELDS` order (empty for an undefined ratio)."""
    return ["" if (v := getattr(figures_, name)) is None else str(v) for name in FIGURE_FIELDS]


def report_csv_rows(report: FinancingReport) -> list[list[str]]:
    """The report as CSV rows: a header, the totals (dimension `all`), then every group of every breakdown."""
    rows = [["dimension", "key", *FIGURE_FIELDS], ["all", "", *figure_values(report.totals)]]
    for dimension, groups in report.breakdowns.items():
        rows += [[dimension.value, g.key, *figure_values(g.figures)] for g in groups]
    return rows


def parse_window(since: datetime | None, until: datetime | None) -> tuple[datetime | None, datetime | None]:
    """Check a period: aware times, `since` before `until`."""
    for moment in (since, until):
        if moment is not None and moment.tzinfo is None:
            raise ValueError("period bounds need a timezone (e.g. 2025-01-01T00:00:00+08:00)")
    if since is not None and until is not None and since >= until:
        raise ValueError("since must be before until")
    return since, until
