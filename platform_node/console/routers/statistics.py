"""The financing statistics page: the figures of `GET /v1/statistics/financing`, as tables, bar charts and CSV.

Same roles and scoping as the API (`scoped_institution`): the centre, compliance and admin see every bank; a
bank sees its own figures only, whatever the address says.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from platform_node.api.deps import services_of
from platform_node.api.routers.statistics import compute_report, report_csv, scoped_institution
from platform_node.console import forms
from platform_node.console.charts import bar_chart
from platform_node.console.deps import StatisticsSession
from platform_node.console.errors import ConsoleError
from platform_node.console.i18n import translator
from platform_node.console.render import language_of, page, secured
from platform_node.statistics import FIGURE_FIELDS, Dimension

router = APIRouter(prefix="/console/statistics", include_in_schema=False)
# The figures shown in each breakdown's table (the CSV has them all).
BREAKDOWN_FIGURES = ("loans", "amount_cny", "first_loans", "renewals", "credit_loans", "secured_loans",
                     "average_rate", "approval_rate", "mean_decision_days", "first_loan_rate")
RATIOS = ("approval_rate", "first_loan_rate", "average_rate")


def _filters(request: Request, session) -> dict:
    q = request.query_params
    district = (q.get("district") or "").strip()
    industry = (q.get("industry") or "").strip()
    if district and not (len(district) == 6 and district.isdigit()):
        raise ConsoleError(422, "common.error", code="INVALID_DISTRICT")
    if industry and (len(industry) > 64 or not all(c.isalnum() or c in "_.-" for c in industry)):
        raise ConsoleError(422, "common.error", code="INVALID_INDUSTRY")
    since, until = forms.date_or_time(q.get("since")), forms.date_or_time(q.get("until"), end=True)
    if since is not None and until is not None and since >= until:
        raise ConsoleError(422, "stats.invalid_period", code="INVALID_PERIOD")
    bank = (q.get("institution_id") or "").strip()[:128] or None
    return {"since": since, "until": until, "district": district or None, "industry": industry or None,
            "institution_id": scoped_institution(session.institution, bank)}


@router.get("")
async def statistics(request: Request, session: StatisticsSession) -> Response:
    services = services_of(request)
    filters = _filters(request, session)
    report = await run_in_threadpool(lambda: compute_report(services, **filters))
    t = translator(language_of(request))
    charts = {d: bar_chart([(g.key, float(g.figures.amount_cny)) for g in report.breakdowns[d]],
                           title=f"{t('stats.chart.amount')} · {t('stats.by.' + d.value)}")
              for d in Dimension}
    return page(request, "statistics.html", report=report, charts=charts, dimensions=list(Dimension),
                fields=FIGURE_FIELDS, columns=BREAKDOWN_FIGURES, ratios=RATIOS, query=dict(request.query_params),
                bank_only=session.institution.role.value == "bank")


@router.get("/financing.csv")
async def statistics_csv(request: Request, session: StatisticsSession) -> Response:
    services = services_of(request)
    filters = _filters(request, session)
    report = await run_in_threadpool(lambda: compute_report(services, **filters))
    return secured(Response(report_csv(report), media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": 'attachment; filename="financing.csv"'}))
