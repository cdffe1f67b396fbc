"""The standardised public-information report of one enterprise: PUBLIC categories only, grouped."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from errors import NotFound
from platform_node.reports.public_records import PublicCategory, PublicRecord, PublicRecordSource


class UnknownEnterprise(NotFound):
    """No source publishes anything about this (valid) credit code."""


@dataclass(frozen=True)
class ReportSection:
    category: str
    items: tuple[PublicRecord, ...]


@dataclass(frozen=True)
class PublicReport:
    credit_code: str
    generated_at: datetime
    sections: tuple[ReportSection, ...]
    withheld: int  # items a source offered that were not public (dropped, counted for operators)


def build_report(source: PublicRecordSource, credit_code: str, *, now: datetime) -> PublicReport:
    """Every public category in a fixed order (empty ones included, so absence of records is visible)."""
    if not source.knows(credit_code):
        raise UnknownEnterprise(credit_code)
    records = source.records_for(credit_code)
    public = [r for r in records if r.is_public and r.credit_code == credit_code]
    sections = tuple(
        ReportSection(
            category.value,
            tuple(sorted((r for r in public if r.category == category.value), key=lambda r: (r.published_at, r.item_id))),
        )
        for category in PublicCategory
    )
    return PublicReport(credit_code, now, sections, withheld=len(records) - len(public))


def empty_report(credit_code: str, *, now: datetime) -> PublicReport:
    """Every public category, all empty: what a reader is shown for an enterprise nothing is published about,
    whether or not the platform knows it (so a report read does not tell the two apart)."""
    return PublicReport(credit_code, now, tuple(ReportSection(c.value, ()) for c in PublicCategory), withheld=0)
