"""Rendering the platform console's pages over the shared part (`webconsole/render.py`: templates, filters,
headers, base template).

Every page gets the translator `t`, the language, the session (if any) with its CSRF token, who is signed in,
and the navigation of the session's role.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from jinja2 import Environment
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from platform_node.console.i18n import LANG_COOKIE, MESSAGES, choose_language, translator
from platform_node.console.sessions import ConsoleSession
from webconsole.render import SECURITY_HEADERS, when
from webconsole.render import environment as shared_environment

__all__ = ["HOME", "NAVIGATION", "SECURITY_HEADERS", "SESSION_STATE", "NavEntry", "environment", "language_of",
           "page", "secured", "session_of", "when"]

SESSION_STATE = "xyd_console_session"


@dataclass(frozen=True)
class NavEntry:
    href: str
    label: str  # a catalogue key
    extension_point: bool = False


# Each role's pages (an enterprise's too: `routers/enterprise.py`); the source-unit entry is an extension point.
NAVIGATION: dict[str, tuple[NavEntry, ...]] = {
    "bank": (NavEntry("/console/bank/score", "bank.nav.score"), NavEntry("/console/bank/batch", "bank.nav.batch"),
             NavEntry("/console/bank/uses", "bank.nav.uses"), NavEntry("/console/bank/alerts", "bank.nav.alerts"),
             NavEntry("/console/bank/consents", "bank.nav.consents"),
             NavEntry("/console/bank/subscriptions", "bank.nav.subscriptions"),
             NavEntry("/console/statistics", "stats.nav")),
    "compliance": (NavEntry("/console/compliance/uses", "comp.nav.uses"),
                   NavEntry("/console/compliance/authorisations", "comp.nav.authorisations"),
                   NavEntry("/console/compliance/timeline", "comp.nav.timeline"),
                   NavEntry("/console/compliance/verify", "comp.nav.verify"),
                   NavEntry("/console/compliance/overdue", "comp.nav.overdue"),
                   NavEntry("/console/statistics", "stats.nav")),
    "admin": (NavEntry("/console/operator/nodes", "op.nav.nodes"), NavEntry("/console/operator/jobs", "op.nav.jobs"),
              NavEntry("/console/operator/models", "op.nav.models"), NavEntry("/console/statistics", "stats.nav")),
    "statistics": (NavEntry("/console/statistics", "stats.nav"),),
    "enterprise": (NavEntry("/console/enterprise/requests", "ent.nav.requests"),
                   NavEntry("/console/enterprise/consents", "ent.nav.consents"),
                   NavEntry("/console/enterprise/declaration", "ent.nav.declaration"),
                   NavEntry("/console/enterprise/report", "ent.nav.report"),
                   NavEntry("/console/enterprise/key", "ent.nav.key")),
    "source_admin": (NavEntry("/console/source-unit", "role.source_admin", extension_point=True),),
}
HOME = {role: entries[0].href for role, entries in NAVIGATION.items()}


@cache
def environment() -> Environment:
    return shared_environment("platform_node.console")


def language_of(request: Request) -> str:
    return choose_language(request.query_params.get("lang"), request.cookies.get(LANG_COOKIE),
                           request.headers.get("accept-language"))


def session_of(request: Request) -> ConsoleSession | None:
    """The session the request gate found for this request (None on public pages)."""
    return request.scope.get("state", {}).get(SESSION_STATE)


def page(request: Request, template: str, *, status: int = 200, headers: Mapping[str, str] | None = None,
         **context: Any) -> HTMLResponse:
    """Render `template` with the common context."""
    lang = language_of(request)
    session = session_of(request)
    role = session.institution.role.value if session is not None else None
    t = translator(lang)
    who = t("nav.signed_in_as", name=session.institution.name, role=t(f"role.{role}")) if session else ""
    html = environment().get_template(template).render(
        t=t, has=MESSAGES.__contains__, lang=lang, session=session, csrf=session.csrf if session else "", who=who,
        nav=NAVIGATION.get(role or "", ()), path=request.url.path, request=request, **context)
    response = HTMLResponse(html, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})
    if request.query_params.get("lang") in ("zh", "en"):
        response.set_cookie(LANG_COOKIE, request.query_params["lang"], max_age=365 * 86_400, httponly=True,
                            samesite="strict", secure=request.url.scheme == "https", path="/console")
    return response


def secured(response: Response) -> Response:
    """A non-page response (CSV, JSON, redirect) with the same protective headers."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
