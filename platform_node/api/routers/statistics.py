"""`GET /v1/statistics/financing`: the first-loan and renewal centre's financing figures from banks' feedback.

Roles: statistics (the centre), compliance and admin read every bank's figures; a bank reads its own only (a
bank naming another bank is `403 FORBIDDEN_SCOPE`). The console's statistics page shows the same figures,
from the same function.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool

from consent.authorisation.codec import format_time
from platform_node.api.deps import CurrentInstitution, Services
from platform_node.api.errors import ApiError
from platform_node.api.schemas.common import error_responses
from platform_node.api.schemas.statistics import FiguresOut, FinancingOut, GroupOut
from platform_node.api.services import PlatformServices
from platform_node.institutions.model import Institution, Role
from platform_node.statistics import (
    Dimension,
    FinancingFigures,
    FinancingReport,
    decision_rows,
    financing_report,
    report_csv_rows,
)
from platform_node.statistics.financing import parse_window

router = APIRouter(prefix="/v1/statistics", tags=["statistics"])
READERS = frozenset({Role.STATISTICS, Role.COMPLIANCE, Role.ADMIN, Role.BANK})
District = Annotated[str | None, Query(pattern=r"^[0-9]{6}$", description="GB/T 2260 division code.")]
Industry = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
InstitutionFilter = Annotated[str | None, Query(max_length=128, description="A bank's institution id.")]


def scoped_institution(reader: Institution, institution_id: str | None) -> str | None:
    """The bank the figures may cover for this reader; raises when the reader may not read them."""
    if reader.role not in READERS:
        raise ApiError(403, "FORBIDDEN_ROLE", "this endpoint needs the statistics, compliance, admin or bank role")
    if reader.role is Role.BANK:
        if institution_id not in (None, reader.id):
            raise ApiError(403, "FORBIDDEN_SCOPE", "a bank reads its own figures only")
        return reader.id
    return institution_id


def compute_report(services: PlatformServices, *, since: datetime | None, until: datetime | None,
                   institution_id: str | None, district: str | None, industry: str | None) -> FinancingReport:
    """The figures for these filters (the API's and the console's one computation)."""
    try:
        parse_window(since, until)
    except ValueError as exc:
        raise ApiError(422, "INVALID_PERIOD", str(exc)) from None
    rows = decision_rows(services.engine, services.directory, since=since, until=until,
                         institution_id=institution_id, district=district, industry=industry)
    return financing_report(rows)


def figures_out(f: FinancingFigures) -> FiguresOut:
    text = {name: str(getattr(f, name)) for name in ("amount_cny", "first_loan_amount_cny", "renewal_amount_cny",
                                                     "credit_amount_cny", "secured_amount_cny")}
    values = {name: getattr(f, name) for name in FiguresOut.model_fields if name not in text}
    values["average_rate"] = None if f.average_rate is None else str(f.average_rate)
    return FiguresOut(**values, **text)


def report_csv(report: FinancingReport) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(report_csv_rows(report))
    return out.getvalue()


@router.get("/financing", response_model=FinancingOut, summary="Financing statistics from banks' feedback",
            responses={**error_responses(401, 403, 422, 429),
                       200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with `format=csv`."}})
async def financing(
    reader: CurrentInstitution,
    services: Services,
    since: datetime | None = None,
    until: datetime | None = None,
    district: District = None,
    industry: Industry = None,
    institution_id: InstitutionFilter = None,
    format: Literal["json", "csv"] = "json",
) -> Response:
    """Number and amount of loans, first loans and renewals, credit and secured loans, the amount-weighted
    average rate, the approval rate, days from the score look-up to the decision, enterprises served and the
    first-loan rate among them; in total and by district, industry, bank and month (UTC+8), for the decisions
    reported within [since, until). Computed from the decision feedback banks post on their uses (`first_loan`
    and `secured` are optional there: loans without them count as unreported). Roles: statistics, compliance
    and admin (every bank, or one with `institution_id`); a bank (its own figures only)."""
    scope = scoped_institution(reader, institution_id)
    report = await run_in_threadpool(compute_report, services, since=since, until=until, institution_id=scope,
                                     district=district, industry=industry)
    if format == "csv":
        return Response(report_csv(report), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="financing.csv"'})
    groups = {d: [GroupOut(key=g.key, figures=figures_out(g.figures)) for g in report.breakdowns[d]]
              for d in Dimension}
    body = FinancingOut(
        since=None if since is None else format_time(since), until=None if until is None else format_time(until),
        district=district, industry=industry, institution_id=scope, totals=figures_out(report.totals),
        by_district=groups[Dimension.DISTRICT], by_industry=groups[Dimension.INDUSTRY],
        by_bank=groups[Dimension.BANK], by_month=groups[Dimension.MONTH])
    return Response(body.model_dump_json(), media_type="application/json")
