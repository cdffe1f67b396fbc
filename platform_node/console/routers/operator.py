"""The operator's and modeller's pages: nodes and their health, jobs' stage progress, models with ROC and KS
curves, the distribution of served scores, population stability by month and each party's contribution.

Admin role only. Node and model lists come from the coordinator through the platform node's own certificate
(`platform_node/federation_view.py`); job progress is what the platform's stages report (it is the active
party of every joint job); curves are the ones the platform kept when it trained the model; served scores
and their stability come from the uses on record. An API run without a federation says so on each page.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from starlette.responses import Response

from consent.audit.storage import READ_ONLY
from consent.authorisation.schema import from_epoch
from errors import XydError
from models.metrics import MetricError, psi
from platform_node.api.deps import services_of
from platform_node.api.services import PlatformServices
from platform_node.console.charts import Series, bar_chart, column_chart, line_chart
from platform_node.console.deps import AdminSession
from platform_node.console.errors import ConsoleError
from platform_node.console.i18n import translator
from platform_node.console.render import language_of, page
from platform_node.statistics.financing import month_of
from platform_node.uses.records import UseKind
from platform_node.uses.schema import uses

router = APIRouter(prefix="/console/operator", include_in_schema=False)
SCORE_BIN = 20  # points per column of the served-score distribution


def _unavailable(exc: Exception) -> str:
    # What the operator may read: the kind of failure, not the transport's internals.
    return exc.public_message if isinstance(exc, XydError) else type(exc).__name__


@router.get("/nodes")
async def nodes(request: Request, session: AdminSession) -> Response:
    federation = services_of(request).federation
    found, problem = [], None
    if federation is not None:
        try:
            found = await run_in_threadpool(federation.nodes)
        except Exception as exc:  # the coordinator down is a state to show, not a page error
            problem = _unavailable(exc)
    return page(request, "operator/nodes.html", nodes=found, problem=problem, standalone=federation is None)


@router.get("/jobs")
async def jobs(request: Request, session: AdminSession) -> Response:
    federation = services_of(request).federation
    found = federation.activity.jobs() if federation is not None else []
    running = any(stage.state == "RUNNING" for _, stages in found for stage in stages)
    return page(request, "operator/jobs.html", jobs=found, standalone=federation is None,
                headers={"Refresh": "2"} if running else None)


def _models(services: PlatformServices) -> tuple[list[Any], str | None]:
    if services.federation is None:
        return [], None
    try:
        return services.federation.models(), None
    except Exception as exc:
        return [], _unavailable(exc)


@router.get("/models")
async def models(request: Request, session: AdminSession) -> Response:
    services = services_of(request)
    found, problem = await run_in_threadpool(_models, services)
    serving = services.scorer.serving() if hasattr(services.scorer, "serving") else None
    return page(request, "operator/models.html", models=found, problem=problem, serving=serving,
                standalone=services.federation is None)


def served_scores(services: PlatformServices, model_id: str) -> tuple[list[tuple[str, float]], dict[str, list[float]]]:
    """The distribution of the points served under `model_id` and the served PDs by month (UTC+8)."""
    query = (select(uses.c.created_at, uses.c.score, uses.c.probability_of_default)
             .where(uses.c.model_id == model_id, uses.c.kind == UseKind.SCORE.value))
    counts: dict[int, int] = defaultdict(int)
    by_month: dict[str, list[float]] = defaultdict(list)
    with services.engine.connect().execution_options(**READ_ONLY) as conn:
        for row in conn.execute(query):
            counts[(row.score // SCORE_BIN) * SCORE_BIN] += 1
            by_month[month_of(from_epoch(row.created_at))].append(row.probability_of_default)
    columns = [(f"{low}", float(counts[low])) for low in range(min(counts), max(counts) + SCORE_BIN, SCORE_BIN)] \
        if counts else []
    return columns, dict(sorted(by_month.items()))


def stability(reference: list[float], by_month: dict[str, list[float]]) -> list[tuple[str, float, int]]:
    """PSI of each month's served PDs against the reference (the holdout's PD quantiles)."""
    rows = []
    for month, values in by_month.items():
        try:
            rows.append((month, round(psi(np.array(reference), np.array(values)), 4), len(values)))
        except MetricError:
            continue
    return rows


@router.get("/models/{model_id}")
async def model(model_id: str, request: Request, session: AdminSession) -> Response:
    services = services_of(request)
    if len(model_id) > 128:
        raise ConsoleError(404, "common.error", code="NOT_FOUND")
    listed, problem = await run_in_threadpool(_models, services)
    summary = next((m for m in listed if m.model_id == model_id), None)
    curves = services.federation.evaluation(model_id) if services.federation is not None else None
    columns, by_month = await run_in_threadpool(served_scores, services, model_id)
    if summary is None and curves is None and not columns:
        raise ConsoleError(404, "common.error", code="NOT_FOUND")
    t = translator(language_of(request))
    charts: dict[str, Any] = {}
    psi_rows: list[tuple[str, float, int]] = []
    if curves is not None:
        charts["roc"] = line_chart([Series("ROC", curves.roc)], title=t("op.model.roc"), x_label=t("op.model.fpr"),
                                   y_label=t("op.model.tpr"), diagonal=True)
        share = curves.ks.get("share", [])
        charts["ks"] = line_chart(
            [Series(t("op.model.defaulters"), list(zip(share, curves.ks.get("tpr", []), strict=False))),
             Series(t("op.model.payers"), list(zip(share, curves.ks.get("fpr", []), strict=False)))],
            title=t("op.model.ks_curve"), x_label=t("op.model.threshold_share"), y_label=t("op.model.cum_share"))
        if curves.pd_quantiles:
            psi_rows = stability(curves.pd_quantiles, by_month)
        if curves.contributions:
            charts["contributions"] = bar_chart(
                [(party, float(c.get("marginal_auc", 0.0))) for party, c in sorted(curves.contributions.items())],
                title=t("op.model.contributions"), value_format="{:+.4f}")
    if columns:
        charts["distribution"] = column_chart(columns, title=t("op.model.distribution"))
    if psi_rows:
        charts["psi"] = bar_chart([(m, v) for m, v, _ in psi_rows], title=t("op.model.psi"), value_format="{:.4f}")
    return page(request, "operator/model.html", model_id=model_id, summary=summary, curves=curves, charts=charts,
                psi_rows=psi_rows, columns=columns, problem=problem, score_bin=SCORE_BIN)
