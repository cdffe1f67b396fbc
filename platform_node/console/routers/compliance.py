"""The compliance officer's pages: uses and authorisations filtered, a timeline per enterprise, one-click
verification of a receipt and the checkpoint chain, overdue feedback by institution, CSV export.

Compliance role only. As in the API, every listing and export is itself an `AUDIT_EXPORT` leaf naming the
officer with a digest of what was shown (`platform_node.api.routers.compliance._record_export`).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from starlette.responses import Response

from consent.audit.storage import READ_ONLY
from consent.authorisation import Purpose, Status
from consent.authorisation.schema import from_epoch
from platform_node.api.deps import services_of
from platform_node.api.routers.compliance import _record_export, authorisation_out
from platform_node.api.routers.uses import use_out
from platform_node.api.services import PlatformServices
from platform_node.console import forms
from platform_node.console.deps import ComplianceSession, checked_form
from platform_node.console.render import page, secured
from platform_node.console.use_pages import STATES, UseFilter, use_page
from platform_node.console.verification import CHAIN_LENGTH, verify_use
from platform_node.uses.deadlines import overdue_institutions
from platform_node.uses.errors import UseNotFound
from platform_node.uses.schema import feedback_events, uses

router = APIRouter(prefix="/console/compliance", include_in_schema=False)
PURPOSES = tuple(p.value for p in Purpose)
STATUSES = tuple(s.value for s in Status)
EXPORT_LIMIT = 10_000
TIMELINE_LIMIT = 500


def _use_filter(q: Any) -> UseFilter:
    institution = (q.get("institution_id") or "").strip()
    return UseFilter(institution_id=institution[:128] or None, credit_code=forms.credit_code(q.get("credit_code")),
                     purpose=forms.choice(q.get("purpose"), PURPOSES), since=forms.date_or_time(q.get("since")),
                     until=forms.date_or_time(q.get("until"), end=True), state=forms.choice(q.get("state"), STATES))


@router.get("/uses")
async def uses_page(request: Request, session: ComplianceSession) -> Response:
    services = services_of(request)
    q = request.query_params
    flt = _use_filter(q)
    now = services.now()

    def load():
        found = use_page(services.engine, flt, now=now, cursor=q.get("after"))
        _record_export(services, session.institution, "EXPORT_USES",
                       {"uses": [use_out(u, now).model_dump() for u in found.items],
                        "owners": {u.id: u.institution_id for u in found.items}})
        return found

    found = await run_in_threadpool(load)
    return page(request, "compliance/uses.html", page_=found, now=now, states=STATES, purposes=PURPOSES,
                query=dict(q.items()), show_institution=True, use_link="/console/compliance/verify?use_id=")


@router.get("/uses.csv")
async def uses_csv(request: Request, session: ComplianceSession) -> Response:
    services = services_of(request)
    flt = _use_filter(request.query_params)
    now = services.now()

    def export() -> str:
        found = use_page(services.engine, flt, now=now, limit=EXPORT_LIMIT).items
        rows = [use_out(u, now).model_dump() for u in found]
        _record_export(services, session.institution, "EXPORT_USES",
                       {"uses": rows, "owners": {u.id: u.institution_id for u in found}})
        out = io.StringIO()
        columns = ["use_id", "institution_id", *[c for c in (rows[0] if rows else {}) if c != "use_id"]]
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for use, row in zip(found, rows, strict=True):
            row["institution_id"] = use.institution_id
            writer.writerow([";".join(v) if isinstance(v := row.get(c), list) else "" if v is None else v
                             for c in columns])
        return out.getvalue()

    text = await run_in_threadpool(export)
    return secured(Response(text, media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": 'attachment; filename="uses.csv"'}))


@router.get("/authorisations")
async def authorisations(request: Request, session: ComplianceSession) -> Response:
    services = services_of(request)
    q = request.query_params
    code = forms.credit_code(q.get("credit_code"))
    grantee = (q.get("grantee") or "").strip()[:128] or None
    provider = (q.get("source_unit") or "").strip()[:128] or None
    purpose = forms.choice(q.get("purpose"), PURPOSES)
    status = forms.choice(q.get("status"), STATUSES)
    since, until = forms.date_or_time(q.get("since")), forms.date_or_time(q.get("until"), end=True)

    def load():
        found = services.authorisations.find(credit_code=code, grantee=grantee,
                                             status=Status(status) if status else None)
        kept = [r for r in found
                if (provider is None or provider in r.terms.providers)
                and (purpose is None or r.terms.purpose.value == purpose)
                and (since is None or r.registered_at >= since) and (until is None or r.registered_at < until)]
        kept = list(reversed(kept))[:200]
        _record_export(services, session.institution, "EXPORT_AUTHORISATIONS",
                       [authorisation_out(r).model_dump() for r in kept])
        return kept

    records = await run_in_threadpool(load)
    return page(request, "compliance/authorisations.html", records=records, purposes=PURPOSES, statuses=STATUSES,
                query=dict(q.items()))


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    message_key: str
    values: dict[str, Any]
    detail: str
    link: str | None = None


def timeline(services: PlatformServices, credit_code: str) -> list[TimelineEntry]:
    """An enterprise's authorisations (each status change), uses, feedback and alerts, newest first."""
    entries: list[TimelineEntry] = []
    for record in services.authorisations.find(credit_code=credit_code):
        terms = record.terms
        for change in services.authorisations.history(terms.id):
            entries.append(TimelineEntry(change.at, "comp.timeline.authorisation", {"status": change.target.value},
                                         f"{terms.id} · {terms.grantee} · {terms.purpose.value} · "
                                         f"{change.reason.value} ({change.actor})"))
    with services.engine.connect().execution_options(**READ_ONLY) as conn:
        rows = conn.execute(select(uses).where(uses.c.credit_code == credit_code)
                            .order_by(uses.c.created_at.desc()).limit(TIMELINE_LIMIT)).fetchall()
        ids = [r.id for r in rows]
        events = conn.execute(select(feedback_events).where(feedback_events.c.use_id.in_(ids))).fetchall() if ids else []
    for r in rows:
        result = f"{r.score} {r.grade}" if r.kind == "SCORE" else (r.failure_code or "")
        entries.append(TimelineEntry(from_epoch(r.created_at), "comp.timeline.use", {"kind": r.kind},
                                     f"{r.id} · {r.institution_id} · {r.purpose} · {result}",
                                     f"/console/compliance/verify?use_id={r.id}"))
    for e in events:
        key, values = (("comp.timeline.decision", {"decision": e.code}) if e.type == "DECISION"
                       else ("comp.timeline.outcome", {"outcome": e.code}))
        amount = "" if e.amount_fen is None else f" · {e.amount_fen / 100:,.2f} CNY · {e.annual_rate}"
        entries.append(TimelineEntry(from_epoch(e.at), key, values, f"{e.use_id} · {e.institution_id}{amount}"))
    for a in _alerts_of(services, credit_code):
        entries.append(TimelineEntry(a["created_at"], "comp.timeline.alert", {"kind": a["kind"]},
                                     f"{a['use_id']} · {a['institution_id']} · {a['previous_score']} → {a['score']}"))
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries


def _alerts_of(services: PlatformServices, credit_code: str) -> list[dict[str, Any]]:
    from platform_node.monitoring.schema import alerts

    with services.engine.connect().execution_options(**READ_ONLY) as conn:
        rows = conn.execute(select(alerts).where(alerts.c.credit_code == credit_code)
                            .order_by(alerts.c.created_at.desc()).limit(TIMELINE_LIMIT)).fetchall()
    return [{"created_at": from_epoch(r.created_at), "kind": r.kind, "use_id": r.use_id,
             "institution_id": r.institution_id, "previous_score": r.previous_score, "score": r.score} for r in rows]


@router.get("/timeline")
async def timeline_page(request: Request, session: ComplianceSession) -> Response:
    services = services_of(request)
    code = forms.credit_code(request.query_params.get("credit_code"))
    entries: list[TimelineEntry] = []
    if code is not None:
        def load() -> list[TimelineEntry]:
            found = timeline(services, code)
            _record_export(services, session.institution, "EXPORT_TIMELINE",
                           [(e.at.isoformat(), e.message_key, e.detail) for e in found])
            return found

        entries = await run_in_threadpool(load)
    return page(request, "compliance/timeline.html", credit_code=code or "", entries=entries)


@router.get("/verify")
async def verify_form(request: Request, session: ComplianceSession) -> Response:
    return page(request, "compliance/verify.html", target=request.query_params.get("use_id", "")[:40], report=None,
                not_found=False, chain_length=CHAIN_LENGTH)


@router.post("/verify")
async def verify(request: Request, session: ComplianceSession) -> Response:
    form = await checked_form(request, session)
    services = services_of(request)
    target = form.get("target")
    target = target.strip()[:40] if isinstance(target, str) else ""

    def run():
        use = None
        if target.isdigit():
            index = int(target)
        else:
            try:
                use = services.uses.get(target)
            except UseNotFound:
                return None
            index = use.audit_index
        try:
            services.audit.leaf(index)
        except IndexError:
            return None
        return verify_use(services.audit, services.log_verifier, index, use)

    report = await run_in_threadpool(run)
    return page(request, "compliance/verify.html", status=200 if report is not None else 404, target=target,
                report=report, not_found=report is None, chain_length=CHAIN_LENGTH)


@router.get("/overdue")
async def overdue(request: Request, session: ComplianceSession) -> Response:
    services = services_of(request)

    def load():
        rows = overdue_institutions(services.engine, now=services.now())
        _record_export(services, session.institution, "EXPORT_OVERDUE",
                       [{"institution_id": r.institution_id, "overdue": r.overdue} for r in rows])
        return rows

    rows = await run_in_threadpool(load)
    return page(request, "compliance/overdue.html", rows=rows)
