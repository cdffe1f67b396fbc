"""The HTTP edge's one error catalogue: every domain error becomes one status, one code and public text.

Bodies are `{"code": ..., "message": ..., "errors"?: [...], "failed_sources"?: [...]}`. The detail stays in
the server log (without values); refusals that would leak information share one answer: an unknown key id,
a wrong secret and a revoked key are all `UNAUTHENTICATED`, and another institution's object is `NOT_FOUND`
exactly like a missing one. Validation errors never echo the submitted input back: not its values, not the
names of fields the API does not declare.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from consent.audit import NoteError
from consent.authorisation import WireFormatError
from consent.enterprise import IdentityNotProven
from errors import (
    AlreadyExists,
    Conflict,
    IntegrityFailure,
    InvalidInput,
    NotFound,
    ProtocolViolation,
    Refused,
    Unavailable,
    XydError,
)
from platform_node.api.observability import count_refusal
from platform_node.consent_requests import (
    InvalidConsentRequest,
    NotTheSubject,
    RequestNotPending,
    SignatureRefused,
    TermsMismatch,
    UnknownConsentRequest,
)
from platform_node.declarations import (
    DeclarationNotCurrent,
    DeclarationRefused,
    ReadRefused,
    UnknownDeclaration,
)
from platform_node.enterprises import (
    EnterpriseAlreadySignedUp,
    EnterpriseSuspended,
    EnterpriseUnauthenticated,
    KeyChangeRefused,
    UnknownEnterpriseAccount,
)
from platform_node.institutions.errors import (
    DuplicateInstitution,
    InstitutionSuspended,
    InvalidCredentials,
    InvalidInstitution,
    NoAgreement,
    RateLimited,
    UnknownInstitution,
)
from platform_node.institutions.webhook_targets import WebhookTargetRefused
from platform_node.monitoring.alerts import AlertNotFound
from platform_node.monitoring.sweep import MonitoringNotAuthorised, NotMonitorable
from platform_node.reports.report import UnknownEnterprise
from platform_node.reports.subscriptions import InvalidSubscription, SubscriptionNotFound
from platform_node.scoring.scorer import FailureCode, ScoreFailure, ScorerContractError
from platform_node.uses.errors import FeedbackConflict, FeedbackOverdue, InvalidFeedback, UseNotFound

log = logging.getLogger("xyd.platform.api")


class ApiError(XydError):
    """An error raised by a handler itself, already in public form (its HTTP status, code and text)."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message, code=code, public=message)
        self.status, self.message, self.extra = status, message, extra


class ForbiddenRole(ApiError):
    def __init__(self, needed: str) -> None:
        super().__init__(403, "FORBIDDEN_ROLE", f"this endpoint needs the {needed} role")


class ScoreRefused(ApiError):
    """A single-enterprise score request whose scorer answer was a failure."""

    _STATUS = {
        FailureCode.UNKNOWN_ENTERPRISE: 404,
        FailureCode.SOURCE_UNAVAILABLE: 503,
        FailureCode.DEADLINE_EXCEEDED: 504,
        FailureCode.MODEL_UNAVAILABLE: 503,
        FailureCode.SCORER_ERROR: 502,
    }

    def __init__(self, failure: ScoreFailure, use_id: str | None = None) -> None:
        super().__init__(self._STATUS[failure.code], failure.code.value, failure.message,
                         failed_sources=list(failure.failed_sources), use_id=use_id)


class NotYetCheckpointed(ApiError):
    def __init__(self) -> None:
        super().__init__(409, "NOT_YET_CHECKPOINTED",
                         "no published checkpoint covers this leaf yet; retry after the next checkpoint")


class VerificationUnavailable(Unavailable):
    code = "VERIFICATION_UNAVAILABLE"
    default_public = "verification needs the platform node's consent registry; this API runs without one"


class InvalidKeyBinding(InvalidInput):
    code = "INVALID_KEY_BINDING"
    default_public = "the key binding does not verify against the federation CA for this institution"
    detail_is_public = False


class NotOwnLeaf(Refused):
    code = "NOT_FOUND"
    default_public = "no such leaf of this institution"
    detail_is_public = False


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "message": message, **{k: v for k, v in extra.items() if v is not None}}


def _json(status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    count_refusal(code)
    return JSONResponse(error_body(code, message, **extra), status_code=status, headers=headers)


# Domain error -> (status, code, public message or None to use str(error)).
_CATALOGUE: list[tuple[type[Exception], int, str, str | None]] = [
    (InstitutionSuspended, 403, "INSTITUTION_SUSPENDED", "this institution is suspended"),
    (NoAgreement, 403, "NO_AGREEMENT", None),
    (FeedbackOverdue, 403, "FEEDBACK_OVERDUE", None),
    (MonitoringNotAuthorised, 403, "NOT_AUTHORISED", None),
    (UseNotFound, 404, "NOT_FOUND", "no such use"),
    (AlertNotFound, 404, "NOT_FOUND", "no such alert"),
    (SubscriptionNotFound, 404, "NOT_FOUND", "no such subscription"),
    (UnknownInstitution, 404, "NOT_FOUND", "no such institution"),
    (UnknownEnterprise, 404, "UNKNOWN_ENTERPRISE", "no public information is published for this credit code"),
    (FeedbackConflict, 409, "FEEDBACK_CONFLICT", None),
    (NotMonitorable, 409, "NOT_MONITORABLE", None),
    (DuplicateInstitution, 409, "DUPLICATE", "an institution with this id already exists"),
    (InvalidFeedback, 422, "INVALID_FEEDBACK", None),
    (InvalidSubscription, 422, "INVALID_SUBSCRIPTION", None),
    (InvalidInstitution, 422, "INVALID_INSTITUTION", None),
    (WebhookTargetRefused, 422, "INVALID_WEBHOOK", None),
    (NoteError, 422, "INVALID_AUDIT_QUERY", None),
    (IdentityNotProven, 401, "IDENTITY_NOT_PROVEN", "the identity proof was not accepted"),
    (EnterpriseSuspended, 403, "ENTERPRISE_SUSPENDED", "this enterprise account is suspended"),
    (EnterpriseAlreadySignedUp, 409, "ALREADY_SIGNED_UP",
     "this enterprise has an account already; recover its key instead"),
    (UnknownEnterpriseAccount, 404, "NO_ACCOUNT", "this enterprise has no account; sign up first"),
    (KeyChangeRefused, 422, "KEY_CHANGE_REFUSED",
     "the key change was refused (a key bound before, or a revocation dated in the future)"),
    (WireFormatError, 422, "MALFORMED", "a signed or encoded field is malformed"),
    (UnknownConsentRequest, 404, "NOT_FOUND", "no such consent request or consent"),
    (InvalidConsentRequest, 422, "INVALID_CONSENT_REQUEST", None),
    (NotTheSubject, 403, "NOT_THE_SUBJECT", "this enterprise is not the subject of that consent"),
    (RequestNotPending, 409, "REQUEST_NOT_PENDING", "the consent request is no longer pending"),
    (TermsMismatch, 422, "TAMPERED_TERMS", "the signed terms are not the terms of this request"),
    (VerificationUnavailable, 503, "VERIFICATION_UNAVAILABLE",
     "verification needs the platform node's consent registry; this API runs without one"),
    (InvalidKeyBinding, 422, "INVALID_KEY_BINDING",
     "the key binding does not verify against the federation CA for this institution"),
    (NotOwnLeaf, 404, "NOT_FOUND", "no such leaf of this institution"),
    (UnknownDeclaration, 404, "NOT_FOUND", "no such declaration"),
    (DeclarationNotCurrent, 409, "DECLARATION_NOT_CURRENT", "only the current declaration can be withdrawn"),
]

_DECLARATION_REFUSALS = {
    "COMMITMENT_MISMATCH": "the statement does not carry the platform's current credit commitment",
    "VERSION_CONFLICT": "the declaration is not the next version superseding the current one",
    "NOT_THE_SUBJECT": "the declaration is signed for another enterprise",
    "WRONG_INSTRUCTION": "the instruction is for another action or target",
    "MALFORMED": "the signed declaration is malformed",
}
_READ_REFUSALS = {
    "NOT_AUTHORISED": "no consent of this institution allows this read",
    "PAUSED": "the consent is paused", "REVOKED": "the consent is revoked", "EXPIRED": "the consent has expired",
    "NOT_ACTIVE": "the consent is not active", "NOT_YET_VALID": "the consent's window has not begun",
    "SCOPE_EXCEEDED": "the consent does not name the self-declared data item",
    "WRONG_PURPOSE": "the consent is for another purpose", "WRONG_MODE": "the consent's mode gives no answers",
    "BUDGET_EXHAUSTED": "the consent's uses are spent",
}

# The public text of each way an enterprise's signature does not count (SignatureRefused.code).
_SIGNATURE_REFUSALS = {
    "BAD_SIGNATURE": "the enterprise's signature does not verify",
    "KEY_NOT_VALID": "the signing key is not bound to this enterprise, or was rotated out or revoked when it signed",
    "STALE_SIGNATURE": "the signature is too old or dated in the future; sign again",
    "REPLAYED_INSTRUCTION": "this signed instruction was used before; sign a new one",
    "WRONG_INSTRUCTION": "the instruction is for another action or target",
}


def _catalogue_handler(status: int, code: str, message: str | None) -> Callable[[Request, Exception], Any]:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        return _json(status, code, message or str(exc))

    return handle


_LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})


def _declared_names(app: FastAPI) -> frozenset[str]:
    """Every field and parameter name the API declares (from its OpenAPI document, built once)."""
    names = getattr(app.state, "declared_names", None)
    if names is None:
        spec = app.openapi()
        found = set(_LOCATIONS)
        for schema in spec.get("components", {}).get("schemas", {}).values():
            found.update(schema.get("properties", {}))
        for operations in spec.get("paths", {}).values():
            for operation in operations.values():
                found.update(p["name"] for p in operation.get("parameters", []) if isinstance(p, dict))
        names = app.state.declared_names = frozenset(found)
    return names


def _field(loc: tuple[Any, ...], declared: frozenset[str]) -> str:
    """The error's location with every part the client chose (an unknown key, a map key) shown as `*`."""
    return ".".join(str(part) if isinstance(part, int) or part in declared else "*" for part in loc)


def _message(error: dict[str, Any]) -> str:
    """Pydantic's message, which is built from the declared constraints, except where it would repeat what was
    submitted (a discriminator's tag; any message that contains the submitted text)."""
    kind, ctx = error.get("type"), error.get("ctx") or {}
    if kind == "union_tag_invalid":
        return f"must be one of the tags {ctx.get('expected_tags', '')}"
    if kind == "extra_forbidden":
        return "extra fields are not permitted"
    message = str(error.get("msg", "invalid value"))
    submitted = error.get("input")
    if isinstance(submitted, str) and len(submitted) >= 2 and submitted in message:
        return "invalid value"
    return message


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    declared = _declared_names(request.app)
    errors = [{"field": _field(tuple(e.get("loc", ())), declared), "message": _message(e)} for e in exc.errors()]
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return _json(422, "INVALID_REQUEST", f"the request is malformed: {summary}", errors=errors)


async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    return _json(exc.status, exc.code, exc.message, **exc.extra)


async def _unauthenticated(request: Request, exc: InvalidCredentials) -> JSONResponse:
    return _json(401, "UNAUTHENTICATED", "missing or invalid API key", headers={"WWW-Authenticate": "Bearer"})


async def _signature_refused(request: Request, exc: SignatureRefused) -> JSONResponse:
    return _json(403, exc.code, _SIGNATURE_REFUSALS.get(exc.code, exc.public_message))


async def _declaration_refused(request: Request, exc: DeclarationRefused) -> JSONResponse:
    message = _DECLARATION_REFUSALS.get(exc.code) or _SIGNATURE_REFUSALS.get(exc.code, exc.public_message)
    return _json(422, exc.code, message)


async def _read_refused(request: Request, exc: ReadRefused) -> JSONResponse:
    return _json(403, exc.code, _READ_REFUSALS.get(exc.code, exc.public_message))


async def _enterprise_unauthenticated(request: Request, exc: EnterpriseUnauthenticated) -> JSONResponse:
    return _json(401, exc.code, exc.public_message)


async def _rate_limited(request: Request, exc: RateLimited) -> JSONResponse:
    return _json(429, exc.reason, str(exc), headers={"Retry-After": str(exc.retry_after_s)},
                 retry_after_s=exc.retry_after_s)


async def _scorer_broken(request: Request, exc: ScorerContractError) -> JSONResponse:
    log.error("scorer broke its contract", extra={"detail": str(exc)})
    return _json(502, "SCORER_ERROR", "the scoring service answered inconsistently; nothing was served")


async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = getattr(exc, "code", None) or {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE"}.get(
        exc.status_code, "HTTP_ERROR")
    return _json(exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None))


# A catalogue error no entry above names: its kind decides the status; its public text is all that is sent.
_KIND_STATUS: tuple[tuple[type[XydError], int], ...] = (
    (AlreadyExists, 409), (InvalidInput, 422), (NotFound, 404), (Refused, 403), (Conflict, 409),
    (Unavailable, 503), (IntegrityFailure, 500), (ProtocolViolation, 502),
)


async def _by_kind(request: Request, exc: XydError) -> JSONResponse:
    status = next((s for kind, s in _KIND_STATUS if isinstance(exc, kind)), 500)
    log.warning("request refused", extra={"code": exc.code, "status": status, "error": type(exc).__name__})
    return _json(status, exc.code, exc.public_message)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # The route template, not the path: a path may hold a credit code, and log lines name no enterprise.
    route = getattr(request.scope.get("route"), "path", "?")
    log.exception("unhandled error", extra={"route": route, "error": type(exc).__name__})
    return _json(500, "INTERNAL", "internal error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(InvalidCredentials, _unauthenticated)
    app.add_exception_handler(EnterpriseUnauthenticated, _enterprise_unauthenticated)
    app.add_exception_handler(SignatureRefused, _signature_refused)
    app.add_exception_handler(DeclarationRefused, _declaration_refused)
    app.add_exception_handler(ReadRefused, _read_refused)
    app.add_exception_handler(RateLimited, _rate_limited)
    app.add_exception_handler(ScorerContractError, _scorer_broken)
    app.add_exception_handler(StarletteHTTPException, _http)
    for kind, status, code, message in _CATALOGUE:
        app.add_exception_handler(kind, _catalogue_handler(status, code, message))
    app.add_exception_handler(XydError, _by_kind)
    app.add_exception_handler(Exception, _unexpected)
