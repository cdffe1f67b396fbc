"""The administrator's console on the node's admin address: routes, log-in, sessions, CSRF and signatures.

The console asks exactly what the JSON admin endpoint asks, in a browser:
- log-in is a `POST /console/login` signed in the browser with the unit's approval key (WebCrypto Ed25519,
  `static/console.js`), checked by the endpoint's own `AdminVerifier` (the unit's public key, a fresh time, a
  nonce never seen: one replay window shared with the JSON endpoint), and carrying a CSRF token from a
  short-lived cookie; it opens a session (`sessions.py`) whose id goes into an HttpOnly, SameSite=Strict cookie;
- every page needs that session; every other POST needs the session, its CSRF token, and again a fresh signature
  of the request by the unit's key (log-out needs the first two only), so a stolen cookie alone changes nothing;
- approving sends the approval the browser signed over the terms it checked against the approval id; the private
  key stays in the browser (a non-extractable `CryptoKey` in the origin's IndexedDB until log-out).
Errors are pages in the reader's language, with the endpoint's codes (404, 409, 400, 502).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

from consent.audit import AuditError
from consent.governance import (
    GovernanceError,
    IllegalApprovalTransition,
    SignedApproval,
    StaleApprovalStatus,
    UnknownApproval,
)
from consent.governance.admin_signature import AdminAuthError, AdminVerifier
from federation.key_binding import KeyBindingInvalid
from source_node.governance.admin import MOVES, AdminDesk
from source_node.governance.console import views
from source_node.governance.console.render import HOME, render, static_asset
from source_node.governance.console.sessions import AdminSessions
from source_node.governance.coordinator_link import CoordinatorUnreachable
from webconsole.i18n import LANG_COOKIE, choose_language
from webconsole.render import SECURITY_HEADERS
from webconsole.tokens import CSRF_FIELD, random_token, same_token

log = logging.getLogger("xyd.source.console")
PREFIX = "/console"
LOGIN_PATH = "/console/login"
SESSION_COOKIE = "xyd_admin_session"
LOGIN_CSRF_COOKIE = "xyd_admin_login_csrf"
_APPROVAL_ID_CHARS = set("0123456789abcdef")


@dataclass(frozen=True)
class ConsoleRequest:
    method: str
    target: str  # path and query, as the request line carried them (what a signature covers)
    headers: Mapping[str, str]  # case-insensitive lookups (http.server's message)
    body: bytes


@dataclass
class ConsoleReply:
    status: int
    body: bytes
    media_type: str = "text/html; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)


class Refusal(Exception):
    """A page-level refusal: its status, the code shown, and a label key."""

    def __init__(self, status: int, code: str, label: str, detail: str = "") -> None:
        super().__init__(label)
        self.status, self.code, self.label, self.detail = status, code, label, detail


def is_console(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def _approval_id(text: str) -> str | None:
    if text.startswith("apv-") and len(text) == 36 and set(text[4:]) <= _APPROVAL_ID_CHARS:
        return text
    return None


class AdminConsole:
    """The console's pages for one node; `handle` answers one request under `/console`."""

    def __init__(self, desk: AdminDesk, verifier: AdminVerifier, *, clock: Callable[[], int], unit: str,
                 key_id: str, sessions: AdminSessions | None = None) -> None:
        self._desk, self._verifier, self._clock = desk, verifier, clock
        self.unit, self.key_id = unit, key_id  # shown on every page; the key id is public
        self._sessions = sessions or AdminSessions()

    # ---- one request -----------------------------------------------------------------------------

    def handle(self, request: ConsoleRequest) -> ConsoleReply:
        parts = urlsplit(request.target)
        path = parts.path
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        cookies = _cookies(request.headers.get("Cookie"))
        lang = choose_language(query.get("lang"), cookies.get(LANG_COOKIE), request.headers.get("Accept-Language"))
        page = _Page(self, lang, path)
        try:
            reply = self._route(request, path, query, cookies, page)
        except Refusal as exc:
            reply = page.error(exc.status, exc.code, exc.label, exc.detail)
        except UnknownApproval:
            reply = page.error(404, "NOT_FOUND", "error.NOT_FOUND")
        except (IllegalApprovalTransition, StaleApprovalStatus) as exc:
            reply = page.error(409, "ILLEGAL_TRANSITION", "error.ILLEGAL_TRANSITION", str(exc))
        except (CoordinatorUnreachable, KeyBindingInvalid, AuditError) as exc:
            reply = page.error(502, "COORDINATOR_UNREACHABLE", "error.COORDINATOR_UNREACHABLE", str(exc))
        except (GovernanceError, ValueError, KeyError, TypeError) as exc:
            reply = page.error(400, "BAD_REQUEST", "error.BAD_REQUEST", str(exc))
        except Exception:  # a page that cannot be shown: the trace goes to the node's log, never to the page
            log.exception("console page failed", extra={"path": path})
            reply = page.error(500, "INTERNAL", "common.error")
        if query.get("lang") in ("zh", "en"):
            reply.headers.append(("Set-Cookie", _cookie(LANG_COOKIE, query["lang"], max_age=365 * 86_400)))
        return reply

    def _route(self, request: ConsoleRequest, path: str, query: dict[str, str], cookies: dict[str, str],
               page: _Page) -> ConsoleReply:
        method = request.method
        if method == "GET" and path.startswith(PREFIX + "/static/"):
            return _static(path.removeprefix(PREFIX + "/static/"))
        if path == LOGIN_PATH:
            return self._login(request, cookies, page) if method == "POST" else page.login()
        now = self._clock()
        session_id = cookies.get(SESSION_COOKIE)
        session = self._sessions.resolve(session_id, now=now)
        if session is None:
            if method == "GET":
                return _redirect(LOGIN_PATH)
            raise Refusal(401, "UNAUTHENTICATED", "login.expired")
        page.signed_in(session.csrf)
        if method == "POST":
            form = _form(request.body)
            if not same_token(form.get(CSRF_FIELD), session.csrf):
                raise Refusal(403, "CSRF_FAILED", "common.csrf_failed")
            if path == "/console/logout":
                self._sessions.end(session_id)
                reply = _redirect(LOGIN_PATH)
                reply.headers.append(("Set-Cookie", _cookie(SESSION_COOKIE, "", max_age=0)))
                return reply
            self._check_signature(request, now)
            return self._act(path, form)
        if method != "GET":
            raise Refusal(405, "METHOD_NOT_ALLOWED", "error.BAD_REQUEST")
        desk = self._desk
        if path in (PREFIX, PREFIX + "/"):
            return _redirect(HOME)
        if path == "/console/approvals":
            return page.show("approvals.html", **views.approvals_page(desk, query.get("status"),
                                                                      views.offset_of(query.get("offset"))))
        if path.startswith("/console/approvals/") and (approval_id := _approval_id(path.rsplit("/", 1)[1])):
            return page.show("approval.html", **views.approval_page(desk, approval_id, query.get("done")))
        if path == "/console/catalogue":
            return page.show("catalogue.html", **views.catalogue_page(desk, views.offset_of(query.get("offset"))))
        if path == "/console/usage":
            first, last = views.default_days(self._desk.governance.clock())
            return page.show("usage.html", **views.usage_page(desk, query.get("from") or first,
                                                              query.get("to") or last,
                                                              views.offset_of(query.get("offset"))))
        raise Refusal(404, "NOT_FOUND", "error.NOT_FOUND")

    # ---- log-in and signed actions ------------------------------------------------------------------

    def _login(self, request: ConsoleRequest, cookies: dict[str, str], page: _Page) -> ConsoleReply:
        form = _form(request.body)
        if not same_token(form.get(CSRF_FIELD), cookies.get(LOGIN_CSRF_COOKIE, "")):
            return page.login(status=403, error="common.csrf_failed")
        now = self._clock()
        try:
            self._verifier.verify(request.method, request.target, request.headers, request.body, now=now)
        except AdminAuthError as exc:
            log.warning("console log-in refused: %s", exc)
            return page.login(status=401, error="login.failed")
        session_id, _ = self._sessions.open(now=now)
        log.info("console log-in", extra={"unit": self.unit, "key_id": self.key_id})
        reply = _redirect(HOME)
        reply.headers += [("Set-Cookie", _cookie(SESSION_COOKIE, session_id, max_age=self._sessions.ttl_s)),
                          ("Set-Cookie", _cookie(LOGIN_CSRF_COOKIE, "", max_age=0, path=LOGIN_PATH))]
        return reply

    def _check_signature(self, request: ConsoleRequest, now: int) -> None:
        try:
            self._verifier.verify(request.method, request.target, request.headers, request.body, now=now)
        except AdminAuthError as exc:
            log.warning("console action refused: %s", exc)
            raise Refusal(401, "UNAUTHENTICATED", "common.unsigned") from None

    def _act(self, path: str, form: dict[str, str]) -> ConsoleReply:
        """An approval's action: approve with the browser's signature, or decline/suspend/resume/revoke."""
        parts = path.split("/")
        if len(parts) != 5 or parts[2] != "approvals" or not (approval_id := _approval_id(parts[3])):
            raise Refusal(404, "NOT_FOUND", "error.NOT_FOUND")
        action = parts[4]
        if action == "approve":
            signed = SignedApproval.from_json({"payload": form.get("payload", ""),
                                               "signature": form.get("signature", "")})
            self._desk.approve(approval_id, signed)
        elif action in MOVES:
            self._desk.move(approval_id, action, form.get("reason", "").strip()[:500])
        else:
            raise Refusal(404, "NOT_FOUND", "error.NOT_FOUND")
        log.info("console action", extra={"approval_id": approval_id, "action": action})
        return _redirect(f"/console/approvals/{approval_id}?done={action}")


class _Page:
    """Renders this request's pages in its language, knowing whether someone is signed in."""

    def __init__(self, console: AdminConsole, lang: str, path: str) -> None:
        self._console, self._lang, self._path = console, lang, path
        self._csrf, self._signed_in = "", False

    def signed_in(self, csrf: str) -> None:
        self._csrf, self._signed_in = csrf, True

    def show(self, template: str, *, http_status: int = 200, **context: Any) -> ConsoleReply:
        console = self._console
        body = render(template, lang=self._lang, path=self._path, unit=console.unit, key_id=console.key_id,
                      csrf=self._csrf, signed_in=self._signed_in, **context)
        return ConsoleReply(http_status, body)

    def login(self, *, status: int = 200, error: str | None = None) -> ConsoleReply:
        token = random_token()
        reply = self.show("login.html", http_status=status, login_csrf=token, error=error)
        reply.headers.append(("Set-Cookie", _cookie(LOGIN_CSRF_COOKIE, token, max_age=1800, path=LOGIN_PATH)))
        return reply

    def error(self, status: int, code: str, label: str, detail: str = "") -> ConsoleReply:
        return self.show("error.html", http_status=status, code=code, message_key=label, detail=detail)


def _cookies(header: str | None) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header or "")
    except CookieError:
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


def _cookie(name: str, value: str, *, max_age: int, path: str = PREFIX) -> str:
    # The admin address is plain HTTP on loopback (or behind the operator's TLS proxy): no Secure flag here.
    return f"{name}={value}; Max-Age={max_age}; Path={path}; HttpOnly; SameSite=Strict"


def _form(body: bytes) -> dict[str, str]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refusal(400, "BAD_REQUEST", "error.BAD_REQUEST") from None
    return {k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()}


def _redirect(target: str) -> ConsoleReply:
    return ConsoleReply(303, b"", headers=[("Location", target)])


def _static(name: str) -> ConsoleReply:
    found = static_asset(name)
    if found is None:
        return ConsoleReply(404, b"not found", "text/plain; charset=utf-8")
    data, media_type = found
    return ConsoleReply(200, data, media_type, [("Cache-Control", "public, max-age=3600")])


def security_headers(reply: ConsoleReply) -> list[tuple[str, str]]:
    """Every header of a reply: the consoles' protective headers, overridden by the reply's own."""
    own = {name.lower() for name, _ in reply.headers}
    return [(k, v) for k, v in SECURITY_HEADERS.items() if k.lower() not in own] + reply.headers
