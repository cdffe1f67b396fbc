"""The gate every HTTP request passes before FastAPI reads its body: a size limit, then authentication.

FastAPI reads and parses a request's body before it resolves the dependencies that authenticate, so without
this gate an outsider's 100 MB body was read in full before its 401, and a keyless malformed body got a 422
(telling an outsider how the endpoint parses). Here, in order, before the body is touched:
1. on `/v1/*` (except `/v1/health`) the bearer key is checked: a key that authenticated within the last
   seconds passes from memory; otherwise, if the client's address or the presented key id has used up its
   failed-authentication allowance, `429 AUTH_RATE_LIMITED` (no credential is checked); else the key is
   checked, and a failure is `401 UNAUTHENTICATED` and counted (`institutions.failed_auth`). So an outsider
   gets 401 (or 429) whatever its body, and the body is never read;
2. a declared `Content-Length` above the route's limit is `413 PAYLOAD_TOO_LARGE`;
3. a body sent without a length is counted as it streams, and refused with 413 once past the limit.
The institution found is left in the request's state for the `CurrentInstitution` dependency, which then
charges its per-institution rate limit. Console paths (`/console`) pass the same gate with a session cookie
instead of a key (`platform_node/console/gate.py`): no body is read without a live session, and log-in
failures count against the same failed-authentication limits.

Enterprises authenticate differently (`consent.enterprise.request_auth`): every request under
`/v1/enterprise/` is signed by the enterprise's bound Ed25519 key. The gate checks the timestamp window, the
key, the signature and the nonce (once only) before the body is read, with the same failed-authentication
limits (the bucket of the presented credit code and key id), then checks the body against the signed digest as
it streams in (`401 BODY_DIGEST_MISMATCH`). Sign-up and recovery (`POST /v1/enterprise-accounts[/recovery]`)
are authenticated by the identity proof in their body: the gate only refuses an address over its
failed-authentication allowance (429) before reading it, and the route counts a proof that fails.

The client address is the TCP peer's, or, when the peer is one of `[api] trusted_proxies`, the right-most
`X-Forwarded-For` entry that is not itself a trusted proxy.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from collections.abc import Sequence
from typing import Any

from fastapi.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from consent.authorisation import WireFormatError
from consent.enterprise.request_auth import check_digest, parse_authorization
from platform_node.api.observability import count_refusal
from platform_node.api.settings import DEFAULT_MAX_BATCH_BODY_BYTES, DEFAULT_MAX_BODY_BYTES
from platform_node.console.gate import console_refusal, is_console
from platform_node.enterprises.errors import EnterpriseSuspended, EnterpriseUnauthenticated
from platform_node.institutions.errors import InstitutionSuspended, InvalidCredentials
from platform_node.institutions.failed_auth import client_key
from platform_node.institutions.model import Institution

log = logging.getLogger("xyd.platform.api")

STATE_KEY = "xyd_institution"
ENTERPRISE_STATE_KEY = "xyd_enterprise"
CLIENT_STATE_KEY = "xyd_client"
PUBLIC_PATHS = frozenset({"/v1/health", "/v1/ready"})
ENTERPRISE_PREFIX = "/v1/enterprise/"
# Authenticated by the identity proof they carry (the enterprise has no bound key yet, or lost it).
PROOF_ROUTES = frozenset({("POST", "/v1/enterprise-accounts"), ("POST", "/v1/enterprise-accounts/recovery")})
# Routes whose bodies may be large (stated in API.md); every other route gets the small JSON limit.
LARGE_BODY_ROUTES = frozenset({("POST", "/v1/scores/batch"), ("POST", "/console/bank/batch")})
UNAUTHENTICATED_MESSAGE = "missing or invalid API key"


class PayloadTooLarge(StarletteHTTPException):
    """A streamed body passed the route's limit (raised from `receive`; FastAPI lets HTTP errors through)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body exceeds this endpoint's limit of {limit} bytes")
        self.limit = limit


class BodyDigestMismatch(StarletteHTTPException):
    """An enterprise's body is not the one its signature covers (raised from `receive` at the body's end)."""

    code = "BODY_DIGEST_MISMATCH"

    def __init__(self) -> None:
        super().__init__(401, "the request body does not match its signed digest")


def needs_key(path: str) -> bool:
    """Whether a path is behind authentication: the API's `/v1/` routes, unknown ones included (so an
    outsider cannot tell which exist), except liveness."""
    return path.startswith("/v1/") and path not in PUBLIC_PATHS


def body_limit(services: Any, method: str, path: str) -> int:
    settings = getattr(services, "settings", None)
    large = (method, path) in LARGE_BODY_ROUTES
    if settings is None:
        return DEFAULT_MAX_BATCH_BODY_BYTES if large else DEFAULT_MAX_BODY_BYTES
    return settings.max_batch_body_bytes if large else settings.max_body_bytes


def client_address(peer: str | None, forwarded_for: str | None,
                   trusted: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> str | None:
    """The client's address: the peer's, unless the peer is a trusted proxy (see the module docstring)."""
    if peer is None or not trusted or not forwarded_for or not _within(peer, trusted):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _within(hop, trusted):
            return hop
    return peer


def _within(address: str, networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in networks)


def _digest_checked(receive: Receive, expected: str) -> Receive:
    digest = hashlib.sha256()

    async def checked() -> Message:
        message = await receive()
        if message["type"] == "http.request":
            digest.update(message.get("body", b""))
            if not message.get("more_body", False) and digest.hexdigest() != expected:
                raise BodyDigestMismatch()
        return message

    return checked


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    # The gate answers without reading the body; closing the connection keeps the server from reading (and
    # discarding) whatever body the client goes on sending.
    count_refusal(code)
    return JSONResponse({"code": code, "message": message, **extra}, status_code=status,
                        headers={**(headers or {}), "Connection": "close"})


def _bounded(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def bounded() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise PayloadTooLarge(limit)
        return message

    return bounded


_ENTERPRISE_REFUSALS = {
    "UNAUTHENTICATED": "missing or invalid enterprise request signature",
    "STALE_REQUEST": "the request's timestamp is outside the accepted window; sign it again",
    "REPLAYED_REQUEST": "this signed request was received before; sign a new one",
}


class RequestGate:
    """Pure ASGI middleware (no per-request task or body buffering): see the module docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._trusted: tuple[Any, ...] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        services = scope["app"].state.services
        method, path = scope["method"], scope["path"]
        limit = body_limit(services, method, path)
        length: str | None = None
        authorization = forwarded = content_digest = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value.decode("latin-1")
            elif name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"x-forwarded-for":
                forwarded = value.decode("latin-1")
            elif name == b"xyd-content-sha256":
                content_digest = value.decode("latin-1")
        if services is not None and path.startswith(ENTERPRISE_PREFIX):
            refusal, digest = await self._authenticate_enterprise(services, scope, authorization, forwarded,
                                                                  content_digest)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
            receive = _digest_checked(receive, digest)
        elif services is not None and (method, path) in PROOF_ROUTES:
            refusal = self._admit_proof(services, scope, forwarded)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        elif services is not None and needs_key(path):
            refusal = await self._authenticate(services, scope, authorization, forwarded)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        elif services is not None and is_console(path):
            peer = scope.get("client")
            address = client_address(peer[0] if peer else None, forwarded, self._trusted_networks(services))
            console_answer = await console_refusal(services, scope, address)
            if console_answer is not None:
                await console_answer(scope, receive, send)
                return
        if length is not None:
            if not length.strip().isdigit():
                await _error(400, "BAD_REQUEST", "the Content-Length header is not a number")(scope, receive, send)
                return
            if int(length) > limit:
                await self._too_large(limit, scope, receive, send)
                return
        await self.app(scope, receive if length is not None else _bounded(receive, limit), send)

    @staticmethod
    async def _too_large(limit: int, scope: Scope, receive: Receive, send: Send) -> None:
        answer = _error(413, "PAYLOAD_TOO_LARGE", f"the request body exceeds this endpoint's limit of {limit} bytes")
        await answer(scope, receive, send)

    def _trusted_networks(self, services: Any) -> tuple[Any, ...]:
        if self._trusted is None:
            self._trusted = tuple(ipaddress.ip_network(p, strict=False) for p in services.settings.trusted_proxies)
        return self._trusted

    def _client(self, services: Any, scope: Scope, forwarded: str | None) -> str | None:
        peer = scope.get("client")
        return client_address(peer[0] if peer else None, forwarded, self._trusted_networks(services))

    @staticmethod
    def _rate_limited(wait: float) -> JSONResponse:
        retry = max(1, int(wait + 0.999))
        return _error(429, "AUTH_RATE_LIMITED",
                      "too many failed authentications from this client or for this key; retry later",
                      headers={"Retry-After": str(retry)}, retry_after_s=retry)

    def _admit_proof(self, services: Any, scope: Scope, forwarded: str | None) -> JSONResponse | None:
        """Before a sign-up or recovery body is read: refuse an address over its allowance; leave the
        address in the request's state so the route can count a proof that fails."""
        address = self._client(services, scope, forwarded)
        wait = services.failed_auth.blocked_for(address, None, now=services.now().timestamp())
        if wait > 0:
            return self._rate_limited(wait)
        scope.setdefault("state", {})[CLIENT_STATE_KEY] = address
        return None

    async def _authenticate_enterprise(self, services: Any, scope: Scope, authorization: str | None,
                                       forwarded: str | None, content_digest: str | None
                                       ) -> tuple[JSONResponse | None, str]:
        """(None, the signed body digest) with the enterprise put in the request's state, or the refusal."""
        address = self._client(services, scope, forwarded)
        now = services.now()
        moment = now.timestamp()
        try:
            credentials = parse_authorization(authorization or "")
            digest = check_digest(content_digest)
        except WireFormatError:
            wait = services.failed_auth.blocked_for(address, None, now=moment)
            if wait > 0:
                return self._rate_limited(wait), ""
            services.failed_auth.failed(address, None, now=moment)
            return _error(401, "UNAUTHENTICATED", "missing or malformed enterprise request signature"), ""
        bucket = credentials.limiter_key
        wait = services.failed_auth.blocked_for(address, None, now=moment, key_id=bucket)
        if wait > 0:
            return self._rate_limited(wait), ""
        try:
            enterprise = await run_in_threadpool(
                services.enterprises.authenticate, credentials, method=scope["method"], path=scope["path"],
                query=scope.get("query_string", b"").decode("latin-1"), content_sha256=digest, now=now)
        except EnterpriseUnauthenticated as exc:
            services.failed_auth.failed(address, None, now=moment, key_id=bucket)
            log.info("enterprise authentication failed", extra={"client": client_key(address), "code": exc.code})
            return _error(401, exc.code, _ENTERPRISE_REFUSALS.get(exc.code, exc.public_message)), ""
        except EnterpriseSuspended:
            return _error(403, "ENTERPRISE_SUSPENDED", "this enterprise account is suspended"), ""
        services.failed_auth.succeeded(address, None, now=moment, key_id=bucket)
        state = scope.setdefault("state", {})
        state[ENTERPRISE_STATE_KEY] = enterprise
        state[CLIENT_STATE_KEY] = address
        return None, digest

    async def _authenticate(self, services: Any, scope: Scope, authorization: str | None,
                            forwarded: str | None) -> JSONResponse | None:
        """None with the institution put in the request's state, or the refusal to send."""
        token = None
        if authorization is not None:
            scheme, _, credentials = authorization.partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                token = credentials.strip()
        now = services.now()
        institution: Institution | None = None
        if token is not None:
            institution = services.institutions.recently_authenticated(token, now=now)
        if institution is None:
            peer = scope.get("client")
            address = client_address(peer[0] if peer else None, forwarded, self._trusted_networks(services))
            moment = now.timestamp()
            wait = services.failed_auth.blocked_for(address, token, now=moment)
            if wait > 0:
                retry = max(1, int(wait + 0.999))
                return _error(429, "AUTH_RATE_LIMITED",
                              "too many failed authentications from this client or for this key; retry later",
                              headers={"Retry-After": str(retry)}, retry_after_s=retry)
            try:
                if token is None:
                    raise InvalidCredentials("no bearer API key")
                institution = await run_in_threadpool(services.institutions.authenticate, token, now=now)
                services.failed_auth.succeeded(address, token, now=moment)
            except InvalidCredentials:
                services.failed_auth.failed(address, token, now=moment)
                log.info("authentication failed", extra={"client": client_key(address)})
                return _error(401, "UNAUTHENTICATED", UNAUTHENTICATED_MESSAGE, headers={"WWW-Authenticate": "Bearer"})
            except InstitutionSuspended:
                return _error(403, "INSTITUTION_SUSPENDED", "this institution is suspended")
        scope.setdefault("state", {})[STATE_KEY] = institution
        return None
