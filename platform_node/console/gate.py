"""The console's part of the request gate: a session before any body is read, log-in failures limited.

Runs inside `platform_node.api.request_gate.RequestGate` for every `/console` path, before FastAPI reads a
body, in the same place the API checks its keys:
- static assets and the log-in pages are public; every other console path (unknown ones included, so an
  outsider cannot tell which exist) needs a live session cookie (an institution's or an enterprise's,
  `enterprise_sessions.py`): a GET without one is sent to the log-in page (the enterprise's for its paths),
  anything else is `401` with the connection closed and the body unread;
- a log-in attempt (`POST /console/login` or `/console/enterprise/login`) from an address whose failed-authentication allowance is used up
  is `429` before its body is read; the log-in handler counts each failure against the address and the key id
  with the API's limiter (`institutions.failed_auth`), so the console is no side door for guessing keys.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi.concurrency import run_in_threadpool
from starlette.requests import cookie_parser
from starlette.responses import HTMLResponse, RedirectResponse, Response

from platform_node.console.render import SECURITY_HEADERS, SESSION_STATE

CONSOLE_PREFIX = "/console"
SESSION_COOKIE = "xyd_console"
ADDRESS_STATE = "xyd_client_address"
LOGIN_PATH = "/console/login"
ENTERPRISE_PREFIX = "/console/enterprise"
ENTERPRISE_LOGIN_PATH = "/console/enterprise/login"
LOGIN_PATHS = frozenset({LOGIN_PATH, ENTERPRISE_LOGIN_PATH})
# The log-in pages (institutions' and enterprises'), and the extension point that shows no data.
PUBLIC_PATHS = frozenset({*LOGIN_PATHS, "/console/source-unit"})
STATIC_PREFIX = "/console/static/"


def is_console(path: str) -> bool:
    return path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/")


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(STATIC_PREFIX)


def _plain(status: int, text: str, headers: dict[str, str] | None = None) -> Response:
    # A minimal page: the gate answers before the app (and its templates) runs, and closes the connection so
    # the server does not go on reading a body it refused.
    body = f"<!doctype html><html><head><title>{status}</title></head><body><p>{text}</p></body></html>"
    return HTMLResponse(body, status_code=status,
                        headers={**SECURITY_HEADERS, **(headers or {}), "Connection": "close"})


def session_cookie(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"cookie":
            return cookie_parser(value.decode("latin-1")).get(SESSION_COOKIE)
    return None


async def console_refusal(services: Any, scope: dict[str, Any], address: str | None) -> Response | None:
    """None with the session (if any) and the client address left in the request's state, or the refusal."""
    method, path = scope["method"], scope["path"]
    state = scope.setdefault("state", {})
    state[ADDRESS_STATE] = address
    if path.startswith(STATIC_PREFIX):
        return None
    now = services.now()
    if method == "POST" and path in LOGIN_PATHS:
        wait = services.failed_auth.blocked_for(address, None, now=now.timestamp())
        if wait > 0:
            retry = max(1, int(wait + 0.999))
            return _plain(429, f"Too many failed log-ins from this address; retry in {retry} s. "
                               f"登录失败次数过多，请 {retry} 秒后再试。", {"Retry-After": str(retry)})
        return None
    cookie = session_cookie(scope["headers"])
    session = await run_in_threadpool(services.console_sessions.resolve, cookie, now=now) if cookie else None
    if session is None and cookie:  # an enterprise's session (same cookie, its own table)
        session = await run_in_threadpool(services.enterprise_console_sessions.resolve, cookie, now=now)
    if session is not None:
        state[SESSION_STATE] = session
        return None
    if is_public(path):
        return None
    if method in ("GET", "HEAD"):
        query = scope.get("query_string", b"").decode("latin-1")
        target = path + (f"?{query}" if query else "")
        login = ENTERPRISE_LOGIN_PATH if path == ENTERPRISE_PREFIX or path.startswith(ENTERPRISE_PREFIX + "/") \
            else LOGIN_PATH
        return RedirectResponse(f"{login}?next={quote(target, safe='')}", status_code=303,
                                headers=SECURITY_HEADERS)
    return _plain(401, "Your session ended; log in again. 会话已结束，请重新登录。")
