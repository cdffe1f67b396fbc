"""Log-in, log-out, the console's root and its static assets.

Log-in takes an institution's API key (the same key as the API's `Authorization: Bearer`), checks it like the
API does, and opens a server-side session (`sessions.py`) whose random id goes into an HttpOnly,
SameSite=Strict cookie (Secure when served over https). A failure counts against the client's address and
the key id in the API's failed-authentication limits. The log-in form carries its own CSRF token (a random
value in a short-lived cookie and in the form, compared on submission), so no other site can log a browser
in under its own key.
"""

from __future__ import annotations

import secrets
from importlib import resources

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from platform_node.api.deps import services_of
from platform_node.console import forms
from platform_node.console.deps import CSRF_FIELD, Session, checked_form
from platform_node.console.gate import ADDRESS_STATE, LOGIN_PATH, SESSION_COOKIE, session_cookie
from platform_node.console.render import HOME, SECURITY_HEADERS, page, secured, session_of
from platform_node.institutions.credentials import key_id_of
from platform_node.institutions.errors import InstitutionSuspended, InvalidCredentials
from webconsole.render import shared_static
from webconsole.tokens import same_token

router = APIRouter(include_in_schema=False)
LOGIN_CSRF_COOKIE = "xyd_login_csrf"
MAX_KEY_CHARS = 200
_STATIC = {"console.css": "text/css; charset=utf-8", "console.js": "text/javascript; charset=utf-8",
           "enterprise_sign.js": "text/javascript; charset=utf-8"}
_SHARED = ("console.css",)


def _login_page(request: Request, *, status: int = 200, error: str | None = None, error_values: dict | None = None,
                headers: dict[str, str] | None = None) -> Response:
    token = secrets.token_urlsafe(32)
    response = page(request, "login.html", status=status, login_csrf=token, error=error,
                    error_values=error_values or {}, next=forms.return_path(request.query_params.get("next"), "/console/") or "",
                    headers=headers)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=1800, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path=LOGIN_PATH)
    return response


@router.get("/console")
@router.get("/console/")
async def root(request: Request) -> Response:
    session = session_of(request)
    target = HOME[session.institution.role.value] if session is not None else LOGIN_PATH
    return RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)


@router.get(LOGIN_PATH)
async def login_form(request: Request) -> Response:
    return _login_page(request)


@router.post(LOGIN_PATH)
async def login(request: Request) -> Response:
    services = services_of(request)
    form = await request.form()
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not same_token(form.get(CSRF_FIELD), expected):
        return _login_page(request, status=403, error="common.csrf_failed")
    token = form.get("api_key")
    token = token.strip() if isinstance(token, str) and len(token) <= MAX_KEY_CHARS else ""
    address = request.scope.get("state", {}).get(ADDRESS_STATE)
    now = services.now()
    moment = now.timestamp()
    wait = services.failed_auth.blocked_for(address, token or None, now=moment)
    if wait > 0:
        retry = max(1, int(wait + 0.999))
        return _login_page(request, status=429, error="login.rate_limited", error_values={"seconds": retry},
                           headers={"Retry-After": str(retry)})
    try:
        if not token:
            raise InvalidCredentials("no API key")
        institution = await run_in_threadpool(services.institutions.authenticate, token, now=now)
    except InvalidCredentials:
        services.failed_auth.failed(address, token or None, now=moment)
        return _login_page(request, status=401, error="login.failed")
    except InstitutionSuspended:
        return _login_page(request, status=403, error="login.suspended")
    services.failed_auth.succeeded(address, token, now=moment)
    key_id = key_id_of(token)
    assert key_id is not None  # authenticate accepted the token, so it has a key id
    session_id, _ = await run_in_threadpool(services.console_sessions.open, institution, key_id, now=now)
    target = forms.return_path(form.get("next"), "/console/")
    response = RedirectResponse(target or HOME[institution.role.value], status_code=303, headers=SECURITY_HEADERS)
    response.set_cookie(SESSION_COOKIE, session_id, max_age=int(services.console_sessions.ttl.total_seconds()),
                        httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/console")
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=LOGIN_PATH)
    return response


@router.post("/console/logout")
async def logout(request: Request, session: Session) -> Response:
    await checked_form(request, session)
    services = services_of(request)
    cookie = session_cookie(request.scope["headers"])
    await run_in_threadpool(services.console_sessions.end, cookie)
    await run_in_threadpool(services.enterprise_console_sessions.end, cookie)
    response = RedirectResponse(LOGIN_PATH, status_code=303, headers=SECURITY_HEADERS)
    response.delete_cookie(SESSION_COOKIE, path="/console")
    return response


@router.get("/console/static/{name}")
async def static(name: str) -> Response:
    if name not in _STATIC:
        return secured(Response("not found", status_code=404, media_type="text/plain"))
    data = shared_static(name) if name in _SHARED else \
        resources.files("platform_node.console").joinpath("static", name).read_bytes()
    response = Response(data, media_type=_STATIC[name])
    secured(response)
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
