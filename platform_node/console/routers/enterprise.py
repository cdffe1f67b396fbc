"""The enterprise's pages: log-in by signature, consent requests, consents with their uses, declaration, report.

An enterprise authenticates as the API authenticates it, by a signature of its bound Ed25519 key: the log-in
page has the browser sign a log-in request (the API's request signature, over a one-time challenge) with the
key file the enterprise loads, and the platform checks it with the API's own `EnterpriseAccounts.authenticate`
(time window, nonce, key bound and valid, account active; failures counted like the API's). The key stays in
the browser (`static/enterprise_sign.js`: imported into WebCrypto as a non-extractable key, kept in the
browser's IndexedDB until log-out); the platform never receives it.

Every change is signed in the browser too. The page asks the platform for the exact bytes to sign (the
request's terms with the key id and the time; an instruction; a declaration statement), the script checks
they are about what the page shows, signs `domain || 0x00 || bytes` and posts the bytes with the signature,
and the platform verifies them with the same service calls as `/v1/enterprise/*` (`consent_desk.approve`,
`.decline`, `.change`, `declarations.submit`, `.withdraw`). Every form carries the session's CSRF token.

The key page rotates to a key made in the browser (WebCrypto `generateKey`, not exportable): the new key signs
the ROTATE statement, the current key signs the rotation request exactly as the API's
`POST /v1/enterprise/keys/rotation` is signed, and `EnterpriseAccounts.rotate` binds it. That key then exists
only in this browser; the log-in page offers it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import JSONResponse, RedirectResponse, Response

from consent.audit import AuditEvent, Checkpoint, issue_receipt, parse_note, verify_receipt
from consent.authorisation import SignedTerms
from consent.authorisation.codec import b64decode, b64encode, canonical_json, format_time
from consent.authorisation.errors import WireFormatError
from consent.authorisation.lifecycle import Status
from consent.authorisation.signatures import Domain
from consent.authorisation.terms import SignatoryRole
from consent.enterprise.declarations import (
    COMMITMENT_TEXT,
    COMMITMENT_VERSION,
    FINANCING_PURPOSES,
    REVENUE_BANDS,
    Certification,
    Declaration,
    DeclarationStatement,
    SignedDeclaration,
    Visibility,
)
from consent.enterprise.identity import KeyStatement, ProofPurpose
from consent.enterprise.instructions import Action, Instruction, SignedInstruction
from consent.enterprise.request_auth import SCHEME, RequestCredentials, parse_authorization
from platform_node.api.deps import services_of
from platform_node.api.services import PlatformServices
from platform_node.consent_requests import RequestStatus
from platform_node.console import forms
from platform_node.console.deps import CSRF_FIELD, Session, checked_form
from platform_node.console.enterprise_sessions import EnterpriseConsoleSession
from platform_node.console.errors import ConsoleError
from platform_node.console.gate import ADDRESS_STATE, ENTERPRISE_LOGIN_PATH, SESSION_COOKIE
from platform_node.console.render import HOME, SECURITY_HEADERS, page, secured
from platform_node.declarations import DeclarationStatus
from platform_node.enterprises.errors import EnterpriseSuspended, EnterpriseUnauthenticated
from platform_node.reports.report import UnknownEnterprise, build_report, empty_report
from platform_node.reports.subscriptions import record_payload

router = APIRouter(prefix="/console/enterprise", include_in_schema=False)
LOGIN_CHALLENGE_COOKIE = "xyd_enterprise_login"
PAGE_SIZE = 20
MAX_LISTED = 1000  # what one listing reads at most (the API's own limit)
REQUEST_STATES = tuple(s.value for s in RequestStatus)
CONSENT_STATES = tuple(s.value for s in Status)
CHANGES = {"pause": Action.PAUSE, "resume": Action.RESUME, "revoke": Action.REVOKE}
MAX_CERTIFICATIONS_SHOWN = 3  # blank certification rows on the form (the statement allows ten)
KEY_ROTATION_PATH = "/console/enterprise/key/rotation"


async def enterprise_session(session: Session) -> EnterpriseConsoleSession:
    """The logged-in enterprise (an institution's session gets the API's "wrong role" refusal)."""
    if not isinstance(session, EnterpriseConsoleSession):
        raise ConsoleError(403, "common.error", code="FORBIDDEN_ROLE")
    return session


EnterpriseSession = Annotated[EnterpriseConsoleSession, Depends(enterprise_session)]


def _text(form: FormData, name: str, limit: int = 200) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _page_number(text: str | None) -> int:
    return int(text) if text and text.isdigit() and 0 < int(text) <= MAX_LISTED // PAGE_SIZE else 1


def _slice(items: list[Any], number: int) -> tuple[list[Any], bool]:
    """One page of `items` and whether another follows."""
    start = (number - 1) * PAGE_SIZE
    return items[start:start + PAGE_SIZE], len(items) > start + PAGE_SIZE


def _redirect(target: str) -> Response:
    return RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)


def _to_sign(domain: Domain, payload: bytes) -> Response:
    """What the browser signs: the domain and the exact payload bytes (base64)."""
    return secured(JSONResponse({"domain": domain.value, "payload": b64encode(payload)}))


def _signed(form: FormData) -> tuple[bytes, bytes]:
    """The payload and signature a signing form posts back (never a key)."""
    try:
        return b64decode(_text(form, "payload", 20_000)), b64decode(_text(form, "signature", 200))
    except WireFormatError:
        raise ConsoleError(422, "ent.sign.missing", code="NOT_SIGNED") from None


def _instruction(session: EnterpriseConsoleSession, action: Action, target: str, now: datetime) -> bytes:
    made = Instruction(action, target, session.account.credit_code, session.key_id, now, os.urandom(16).hex())
    return canonical_json(made.to_json())


# ---- log-in ------------------------------------------------------------------------------------------------

def _credentials(form: FormData, credit_code: str) -> RequestCredentials:
    """The request signature a form carries (the fields of the API's Authorization header); raises
    `WireFormatError` for any other shape."""
    return parse_authorization(
        f"{SCHEME} credit_code={credit_code},key_id={_text(form, 'key_id', 16)},"
        f"timestamp={_text(form, 'timestamp', 12)},nonce={_text(form, 'nonce', 32)},"
        f"signature={_text(form, 'request_signature' if 'request_signature' in form else 'signature', 100)}")


def _login_page(request: Request, *, status: int = 200, error: str | None = None,
                error_values: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
                credit_code: str = "", notice: bool = False) -> Response:
    challenge = secrets.token_urlsafe(32)
    services = services_of(request)
    response = page(request, "enterprise/login.html", status=status, challenge=challenge, error=error,
                    error_values=error_values or {}, next=forms.return_path(request.query_params.get("next"), "/console/enterprise/") or "",
                    login_path=ENTERPRISE_LOGIN_PATH, server_time=int(services.now().timestamp()), headers=headers,
                    credit_code=credit_code, rotated=notice)
    response.set_cookie(LOGIN_CHALLENGE_COOKIE, challenge, max_age=600, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path=ENTERPRISE_LOGIN_PATH)
    return response


@router.get("")
async def enterprise_home(request: Request, session: EnterpriseSession) -> Response:
    return _redirect(HOME["enterprise"])


@router.get("/login")
async def login_form(request: Request) -> Response:
    return _login_page(request, notice=request.query_params.get("done") == "rotated")


@router.post("/login")
async def login(request: Request) -> Response:
    """A log-in request signed in the browser, checked exactly as the API checks an enterprise's request: the
    signed body digest is the SHA-256 of this page's one-time challenge (its cookie is the CSRF check)."""
    services = services_of(request)
    form = await request.form()
    expected = request.cookies.get(LOGIN_CHALLENGE_COOKIE, "")
    challenge = form.get(CSRF_FIELD)
    if not expected or not isinstance(challenge, str) or not hmac.compare_digest(challenge.encode(), expected.encode()):
        return _login_page(request, status=403, error="common.csrf_failed")
    address = request.scope.get("state", {}).get(ADDRESS_STATE)
    now = services.now()
    moment = now.timestamp()
    try:
        credentials = _credentials(form, _text(form, "credit_code", 18).upper())
    except WireFormatError:
        services.failed_auth.failed(address, None, now=moment)
        return _login_page(request, status=401, error="ent.login.failed")
    bucket = credentials.limiter_key
    wait = services.failed_auth.blocked_for(address, None, now=moment, key_id=bucket)
    if wait > 0:
        retry = max(1, int(wait + 0.999))
        return _login_page(request, status=429, error="login.rate_limited", error_values={"seconds": retry},
                           headers={"Retry-After": str(retry)})
    try:
        enterprise = await run_in_threadpool(
            services.enterprises.authenticate, credentials, method="POST", path=ENTERPRISE_LOGIN_PATH, query="",
            content_sha256=hashlib.sha256(challenge.encode()).hexdigest(), now=now)
    except EnterpriseUnauthenticated as exc:
        services.failed_auth.failed(address, None, now=moment, key_id=bucket)
        key = "ent.login.stale" if exc.code == "STALE_REQUEST" else "ent.login.failed"
        return _login_page(request, status=401, error=key, credit_code=credentials.credit_code)
    except EnterpriseSuspended:
        return _login_page(request, status=403, error="ent.login.suspended")
    services.failed_auth.succeeded(address, None, now=moment, key_id=bucket)
    session_id, _ = await run_in_threadpool(services.enterprise_console_sessions.open, enterprise.account,
                                            enterprise.key_id, now=now)
    target = forms.return_path(form.get("next"), "/console/enterprise/")
    response = _redirect(target or HOME["enterprise"])
    response.set_cookie(SESSION_COOKIE, session_id,
                        max_age=int(services.enterprise_console_sessions.ttl.total_seconds()), httponly=True,
                        samesite="strict", secure=request.url.scheme == "https", path="/console")
    response.delete_cookie(LOGIN_CHALLENGE_COOKIE, path=ENTERPRISE_LOGIN_PATH)
    return response


# ---- consent requests --------------------------------------------------------------------------------------

@router.get("/requests")
async def requests(request: Request, session: EnterpriseSession) -> Response:
    services = services_of(request)
    q = request.query_params
    status = q.get("status", "PENDING")
    status = status if status in REQUEST_STATES else None
    number = _page_number(q.get("page"))
    found = await run_in_threadpool(services.consent_desk.list, credit_code=session.account.credit_code,
                                    status=None if status is None else RequestStatus(status),
                                    limit=min(number * PAGE_SIZE + 1, MAX_LISTED))
    shown, more = _slice(found, number)
    return page(request, "enterprise/requests.html", requests=shown, more=more, number=number, chosen=status or "",
                states=REQUEST_STATES, now=services.now())


def _request_page(request: Request, session: EnterpriseConsoleSession, request_id: str) -> Response:
    services = services_of(request)
    found = services.consent_desk.of_enterprise(session.account, request_id)
    terms = found.terms_for(session.account) if found.status is RequestStatus.PENDING else None
    record = services.consent_desk.consent_of(found)
    return page(request, "enterprise/request.html", req=found, terms=terms, record=record,
                done=request.query_params.get("done", ""), key_id=session.key_id)


@router.get("/requests/{request_id}")
async def request_detail(request_id: str, request: Request, session: EnterpriseSession) -> Response:
    return await run_in_threadpool(_request_page, request, session, request_id)


@router.post("/requests/{request_id}/prepare/{what}")
async def prepare_request(request_id: str, what: str, request: Request, session: EnterpriseSession) -> Response:
    """The bytes to sign: the request's terms (approve) or a DECLINE instruction."""
    await checked_form(request, session)
    services = services_of(request)
    found = await run_in_threadpool(services.consent_desk.of_enterprise, session.account, request_id)
    if found.status is not RequestStatus.PENDING:
        raise ConsoleError(409, "ent.req.not_pending", code="REQUEST_NOT_PENDING")
    now = services.now()
    if what == "approve":
        payload = canonical_json({"terms": found.terms_for(session.account).to_json(), "key_id": session.key_id,
                                  "signed_at": format_time(now)})
        return _to_sign(Domain.TERMS, payload)
    if what == "decline":
        return _to_sign(Domain.INSTRUCTION, _instruction(session, Action.DECLINE, request_id, now))
    raise ConsoleError(404, "common.error", code="NOT_FOUND")


@router.post("/requests/{request_id}/approve")
async def approve(request_id: str, request: Request, session: EnterpriseSession) -> Response:
    form = await checked_form(request, session)
    payload, signature = _signed(form)
    services = services_of(request)
    done = await run_in_threadpool(services.consent_desk.approve, session.account, request_id,
                                   SignedTerms(payload, signature), now=services.now())
    return _redirect(f"/console/enterprise/consents/{done.authorisation_id}?done=approved")


@router.post("/requests/{request_id}/decline")
async def decline(request_id: str, request: Request, session: EnterpriseSession) -> Response:
    form = await checked_form(request, session)
    payload, signature = _signed(form)
    services = services_of(request)
    await run_in_threadpool(services.consent_desk.decline, session.account, request_id,
                            SignedInstruction(payload, signature), now=services.now())
    return _redirect(f"/console/enterprise/requests/{request_id}?done=declined")


# ---- consents and their uses -------------------------------------------------------------------------------

@router.get("/consents")
async def consents(request: Request, session: EnterpriseSession) -> Response:
    services = services_of(request)
    q = request.query_params
    status = q.get("status") if q.get("status") in CONSENT_STATES else None
    number = _page_number(q.get("page"))
    found = await run_in_threadpool(services.consent_desk.store.find, credit_code=session.account.credit_code,
                                    status=None if status is None else Status(status))
    found = list(reversed(found))  # newest first
    shown, more = _slice(found, number)
    return page(request, "enterprise/consents.html", consents=shown, more=more, number=number, chosen=status or "",
                states=CONSENT_STATES)


def _uses(services: PlatformServices, session: EnterpriseConsoleSession, authorisation_id: str,
          number: int) -> tuple[list[dict[str, Any]], bool, int]:
    """One page of the uses under a consent (newest first), each with its receipt once a checkpoint covers it
    (verified with the log's key): (rows, more, total)."""
    leaves = list(reversed(services.consent_desk.uses(session.account, authorisation_id)))
    shown, more = _slice(leaves, number)
    note = services.audit.latest_checkpoint()
    size = 0 if note is None else Checkpoint.from_body(parse_note(note).text).size
    rows = []
    for leaf in shown:
        event = AuditEvent.from_leaf(leaf.leaf)
        row = {"index": leaf.index, "kind": event.kind.value, "at": datetime.fromisoformat(event.to_json_object()["at"].replace("Z", "+00:00")),
               "institution": event.institution, "source_unit": event.source_unit, "use_id": event.use_id,
               "reason_code": event.reason_code, "leaf_hash": leaf.leaf_hash.hex(), "receipt": None}
        if leaf.index < size:
            receipt = issue_receipt(services.audit, leaf.index, note)
            _, verified = verify_receipt(receipt, services.log_verifier)
            row["receipt"] = {"size": verified.checkpoint.size, "steps": len(receipt.proof)}
        rows.append(row)
    return rows, more, len(leaves)


def _consent_page(request: Request, session: EnterpriseConsoleSession, authorisation_id: str) -> Response:
    services = services_of(request)
    record = services.consent_desk.own_consent(session.account, authorisation_id)
    number = _page_number(request.query_params.get("page"))
    rows, more, total = _uses(services, session, authorisation_id, number)
    origin = services.consent_desk.request_of(authorisation_id)
    return page(request, "enterprise/consent.html", record=record, terms=record.terms, origin=origin, uses=rows,
                more=more, number=number, total=total, done=request.query_params.get("done", ""))


@router.get("/consents/{authorisation_id}")
async def consent_detail(authorisation_id: str, request: Request, session: EnterpriseSession) -> Response:
    return await run_in_threadpool(_consent_page, request, session, authorisation_id)


@router.get("/consents/{authorisation_id}/uses/{index}/receipt.json")
async def use_receipt(authorisation_id: str, index: int, request: Request, session: EnterpriseSession) -> Response:
    """The inclusion receipt of one use under the consent (to check offline with `xyd audit verify-receipt`)."""
    services = services_of(request)

    def find() -> bytes:
        leaves = {leaf.index for leaf in services.consent_desk.uses(session.account, authorisation_id)}
        note = services.audit.latest_checkpoint()
        if index not in leaves or note is None or Checkpoint.from_body(parse_note(note).text).size <= index:
            raise ConsoleError(404, "common.error", code="NOT_FOUND")
        return issue_receipt(services.audit, index, note).to_json()

    body = await run_in_threadpool(find)
    return secured(Response(body, media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="receipt-{index}.json"'}))


@router.post("/consents/{authorisation_id}/prepare/{what}")
async def prepare_change(authorisation_id: str, what: str, request: Request, session: EnterpriseSession) -> Response:
    await checked_form(request, session)
    if what not in CHANGES:
        raise ConsoleError(404, "common.error", code="NOT_FOUND")
    services = services_of(request)
    await run_in_threadpool(services.consent_desk.own_consent, session.account, authorisation_id)
    return _to_sign(Domain.INSTRUCTION, _instruction(session, CHANGES[what], authorisation_id, services.now()))


@router.post("/consents/{authorisation_id}/{what}")
async def change(authorisation_id: str, what: str, request: Request, session: EnterpriseSession) -> Response:
    form = await checked_form(request, session)
    if what not in CHANGES:
        raise ConsoleError(404, "common.error", code="NOT_FOUND")
    payload, signature = _signed(form)
    services = services_of(request)
    await run_in_threadpool(services.consent_desk.change, session.account, authorisation_id, CHANGES[what],
                            SignedInstruction(payload, signature), now=services.now())
    return _redirect(f"/console/enterprise/consents/{authorisation_id}?done={what}")


# ---- self-declaration under the credit commitment ----------------------------------------------------------

def _declaration_page(request: Request, session: EnterpriseConsoleSession, *, status: int = 200) -> Response:
    services = services_of(request)
    history = services.declarations.history(session.account.credit_code)
    current = next((r for r in reversed(history) if r.status is DeclarationStatus.CURRENT), None)
    return page(request, "enterprise/declaration.html", status=status, history=list(reversed(history)),
                current=current, commitment=COMMITMENT_TEXT, commitment_version=COMMITMENT_VERSION,
                purposes=FINANCING_PURPOSES, bands=REVENUE_BANDS, roles=[r.value for r in SignatoryRole],
                account=session.account, rows=range(MAX_CERTIFICATIONS_SHOWN),
                done=request.query_params.get("done", ""))


@router.get("/declaration")
async def declaration_form(request: Request, session: EnterpriseSession) -> Response:
    return await run_in_threadpool(_declaration_page, request, session)


def _declaration(form: FormData) -> Declaration:
    """The declaration the form describes; `ConsoleError` names what is wrong."""
    need_text = _text(form, "financing_need_cny", 40).replace(",", "")
    employees = _text(form, "employees", 12)
    try:
        need = Decimal(need_text) if need_text else None
        if need is not None and not need.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        raise ConsoleError(422, "ent.decl.invalid", code="INVALID_DECLARATION", reason="financing_need_cny") from None
    if employees and not employees.isdigit():
        raise ConsoleError(422, "ent.decl.invalid", code="INVALID_DECLARATION", reason="employees")
    products = [p.strip() for p in _text(form, "main_products", 2000).splitlines() if p.strip()]
    certifications = []
    for i in range(MAX_CERTIFICATIONS_SHOWN):
        name, issuer = _text(form, f"cert_{i}_name", 100), _text(form, f"cert_{i}_issuer", 100)
        if name or issuer:
            certifications.append((name, issuer, _text(form, f"cert_{i}_number", 64) or None,
                                   _text(form, f"cert_{i}_valid_until", 10) or None))
    purpose = _text(form, "financing_purpose", 40)
    band = _text(form, "revenue_band", 40)
    try:
        return Declaration(financing_need_cny=need, financing_purpose=purpose or None, revenue_band=band or None,
                           employees=int(employees) if employees else None, main_products=tuple(products),
                           certifications=tuple(Certification(*c) for c in certifications))
    except WireFormatError as exc:
        raise ConsoleError(422, "ent.decl.invalid", code="INVALID_DECLARATION", reason=str(exc)) from None


@router.post("/declaration/prepare")
async def prepare_declaration(request: Request, session: EnterpriseSession) -> Response:
    """The statement to sign: the form's declaration with the platform's commitment, as the next version."""
    form = await checked_form(request, session)
    if _text(form, "commit") != "yes":
        raise ConsoleError(422, "ent.decl.need_commitment", code="COMMITMENT_NOT_ACCEPTED")
    declaration = _declaration(form)
    services = services_of(request)
    history = await run_in_threadpool(services.declarations.history, session.account.credit_code)
    latest = history[-1] if history else None
    visibility = _text(form, "visibility", 10)
    role = _text(form, "signatory_role", 40)
    try:
        statement = DeclarationStatement(
            session.account.credit_code, declaration,
            Visibility(visibility if visibility in ("PUBLIC", "CONSENT") else "CONSENT"),
            _text(form, "signatory", 100) or session.account.signatory,
            SignatoryRole(role if role in [r.value for r in SignatoryRole] else session.account.signatory_role.value),
            1 if latest is None else latest.version + 1,
            latest.id if latest is not None and latest.status is DeclarationStatus.CURRENT else None,
            services.now(), session.key_id, os.urandom(16).hex())
    except WireFormatError as exc:
        raise ConsoleError(422, "ent.decl.invalid", code="INVALID_DECLARATION", reason=str(exc)) from None
    return _to_sign(Domain.DECLARATION, canonical_json(statement.to_json()))


@router.post("/declaration")
async def declare(request: Request, session: EnterpriseSession) -> Response:
    form = await checked_form(request, session)
    payload, signature = _signed(form)
    services = services_of(request)
    await run_in_threadpool(services.declarations.submit, session.account, SignedDeclaration(payload, signature),
                            now=services.now())
    return _redirect("/console/enterprise/declaration?done=declared")


@router.post("/declaration/{declaration_id}/prepare/withdraw")
async def prepare_withdrawal(declaration_id: str, request: Request, session: EnterpriseSession) -> Response:
    await checked_form(request, session)
    services = services_of(request)
    return _to_sign(Domain.INSTRUCTION, _instruction(session, Action.WITHDRAW, declaration_id, services.now()))


@router.post("/declaration/{declaration_id}/withdraw")
async def withdraw(declaration_id: str, request: Request, session: EnterpriseSession) -> Response:
    form = await checked_form(request, session)
    payload, signature = _signed(form)
    services = services_of(request)
    await run_in_threadpool(services.declarations.withdraw, session.account, declaration_id,
                            SignedInstruction(payload, signature), now=services.now())
    return _redirect("/console/enterprise/declaration?done=withdrawn")


# ---- the signing key: rotate to a key made in this browser ----------------------------------------------------

@router.get("/key")
async def key_page(request: Request, session: EnterpriseSession) -> Response:
    services = services_of(request)
    keys = await run_in_threadpool(services.enterprises.keys.keys, session.account.credit_code)
    return page(request, "enterprise/key.html", keys=list(reversed(keys)), account=session.account,
                roles=[r.value for r in SignatoryRole])


@router.post("/key/rotation/prepare")
async def prepare_rotation(request: Request, session: EnterpriseSession) -> Response:
    """The ROTATE statement naming the public key the browser just made (its private half stays there): the new
    key signs it (possession), the current key signs the rotation request (the API's request signature)."""
    form = await checked_form(request, session)
    services = services_of(request)
    try:
        public = b64decode(_text(form, "public_key", 100))
        role = _text(form, "signatory_role", 40)
        statement = KeyStatement(
            ProofPurpose.ROTATE, services.enterprises.audience, session.account.credit_code,
            _text(form, "signatory", 100) or session.account.signatory,
            SignatoryRole(role if role in [r.value for r in SignatoryRole] else session.account.signatory_role.value),
            public, services.now(), os.urandom(16).hex())
    except WireFormatError as exc:
        raise ConsoleError(422, "ent.decl.invalid", code="INVALID_KEY", reason=str(exc)) from None
    data = statement.to_bytes()
    return secured(JSONResponse({"statement": b64encode(data), "possession_domain": Domain.KEY_POSSESSION.value,
                                 "request_domain": Domain.HTTP_REQUEST.value, "path": KEY_ROTATION_PATH,
                                 "content_sha256": hashlib.sha256(data).hexdigest(),
                                 "server_time": int(services.now().timestamp())}))


@router.post("/key/rotation")
async def rotate(request: Request, session: EnterpriseSession) -> Response:
    """As `POST /v1/enterprise/keys/rotation`: the current key signs this request (checked like any API request,
    over the statement's digest) and the new key signs the statement. The current key closes now, so this
    session ends; the enterprise logs in again with the new key."""
    form = await checked_form(request, session)
    services = services_of(request)
    try:
        statement = b64decode(_text(form, "statement", 4000))
        key_signature = b64decode(_text(form, "key_signature", 200))
        credentials = _credentials(form, session.account.credit_code)
    except WireFormatError:
        raise ConsoleError(422, "ent.sign.missing", code="NOT_SIGNED") from None
    now = services.now()

    def run() -> None:
        try:
            enterprise = services.enterprises.authenticate(
                credentials, method="POST", path=KEY_ROTATION_PATH, query="",
                content_sha256=hashlib.sha256(statement).hexdigest(), now=now)
        except EnterpriseUnauthenticated:
            raise ConsoleError(403, "ent.login.failed", code="UNAUTHENTICATED") from None
        services.enterprises.rotate(enterprise, statement, key_signature, now=now)

    await run_in_threadpool(run)
    await run_in_threadpool(services.enterprise_console_sessions.end, request.cookies.get(SESSION_COOKIE))
    response = _redirect(f"{ENTERPRISE_LOGIN_PATH}?done=rotated")
    response.delete_cookie(SESSION_COOKIE, path="/console")
    return response


# ---- the public report -------------------------------------------------------------------------------------

@router.get("/report")
async def report(request: Request, session: EnterpriseSession) -> Response:
    """The enterprise's own public report, as a bank reading it sees it (public categories, and apart from them
    what the enterprise declared public). Its own look is not a bank's read, so it is not recorded as one."""
    services = services_of(request)
    code, now = session.account.credit_code, services.now()

    def build():
        try:
            built = build_report(services.public_records, code, now=now)
        except UnknownEnterprise:
            built = empty_report(code, now=now)
        return built, services.declarations.public(code)

    built, declared = await run_in_threadpool(build)
    sections = [(s.category, [record_payload(r) for r in s.items]) for s in built.sections]
    return page(request, "enterprise/report.html", sections=sections, declared=declared, generated_at=now)
