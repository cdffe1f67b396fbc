"""Dependencies as named aliases: `Services`, `Settings`, `DbEngine`, `Now`, `CurrentInstitution` and the
role-checked `BankInstitution`, `ComplianceInstitution`, `AdminInstitution`.

Authentication happens before the body is read, in the request gate (`request_gate.py`), which leaves the
institution in the request's state; the dependency takes it from there (checking the key itself only for an
app run without the gate) and charges the institution's rate limit (token bucket; time from the injected
clock, so tests advance time instead of sleeping).
Dependencies are `async def`, so FastAPI runs them on the event loop instead of a worker thread (a thread
hop per dependency costs more than the work); the database reads behind authentication and the overdue
count run in a worker thread only when their short-lived caches miss.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine

from platform_node.api.errors import ForbiddenRole
from platform_node.api.request_gate import CLIENT_STATE_KEY, ENTERPRISE_STATE_KEY, STATE_KEY
from platform_node.api.services import PlatformServices
from platform_node.api.settings import ApiSettings
from platform_node.enterprises import AuthenticatedEnterprise, EnterpriseUnauthenticated
from platform_node.institutions.errors import InvalidCredentials
from platform_node.institutions.model import Institution, Role

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="`Authorization: Bearer xyd.<key id>.<secret>`, as issued by `xyd institution add|rotate-key`.",
)


def services_of(request: Request) -> PlatformServices:
    """The services the app was built with (endpoints on the hot path read them without a dependency)."""
    services = request.app.state.services
    if services is None:
        raise RuntimeError("the app was created without services")
    return services


async def get_services(request: Request) -> PlatformServices:
    return services_of(request)


Services = Annotated[PlatformServices, Depends(get_services)]


async def get_settings(services: Services) -> ApiSettings:
    return services.settings


Settings = Annotated[ApiSettings, Depends(get_settings)]


async def get_engine(services: Services) -> Engine:
    return services.engine


DbEngine = Annotated[Engine, Depends(get_engine)]


async def get_now(services: Services) -> datetime:
    return services.now()


Now = Annotated[datetime, Depends(get_now)]


async def authenticate(
    request: Request,
    services: Services,
    now: Now,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> Institution:
    return await _authenticated(services, now, credentials, request)


async def _authenticated(services: PlatformServices, now: datetime,
                         credentials: HTTPAuthorizationCredentials | None, request: Request) -> Institution:
    institution: Institution | None = request.scope.get("state", {}).get(STATE_KEY)
    if institution is None:  # no gate in front of this app: check the key here
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise InvalidCredentials("no bearer API key")
        token = credentials.credentials
        institution = services.institutions.recently_authenticated(token, now=now)
        if institution is None:  # the database read and hash check run off the event loop
            institution = await run_in_threadpool(services.institutions.authenticate, token, now=now)
    limits = institution.limits
    services.limiter.acquire(institution.id, rate_per_s=limits.rate_per_s, burst=limits.burst, now=now.timestamp())
    return institution


CurrentInstitution = Annotated[Institution, Depends(authenticate)]


def _role(role: Role):
    async def check(institution: CurrentInstitution) -> Institution:
        if institution.role is not role:
            raise ForbiddenRole(role.value)
        return institution

    return check


BankInstitution = Annotated[Institution, Depends(_role(Role.BANK))]
ComplianceInstitution = Annotated[Institution, Depends(_role(Role.COMPLIANCE))]
AdminInstitution = Annotated[Institution, Depends(_role(Role.ADMIN))]


async def scoring_institution(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]
) -> Institution:
    """A bank allowed to score now: authenticated, rate-limited, and not refused or slowed by the
    overdue-feedback policy. One dependency instead of a chain of five: the scoring endpoints are the
    API's hot path, and each dependency FastAPI resolves costs tens of microseconds."""
    services = services_of(request)
    now = services.now()
    institution = await _authenticated(services, now, credentials, request)
    if institution.role is not Role.BANK:
        raise ForbiddenRole(Role.BANK.value)
    overdue = services.overdue.cached(institution.id, now=now)
    if overdue is None:
        overdue = await run_in_threadpool(services.overdue.count, institution.id, now=now)
    apply_overdue_policy(services, institution, overdue, now)
    return institution


def apply_overdue_policy(services: PlatformServices, institution: Institution, overdue: int, now: datetime) -> None:
    """Refuse (BLOCK) or slow (THROTTLE) a bank with this many uses past their feedback deadline: what every
    scoring path runs, the API's and the console's."""
    rate = services.settings.overdue.throttled_rate(institution.id, overdue)
    if rate is not None:
        services.limiter.acquire(
            f"{institution.id}#overdue", rate_per_s=rate, burst=1, now=now.timestamp(),
            reason=f"throttled: {overdue} uses have feedback past the deadline",
        )


ScoringInstitution = Annotated[Institution, Depends(scoring_institution)]


async def current_enterprise(request: Request) -> AuthenticatedEnterprise:
    """The enterprise whose key signed this request (checked by the request gate), charged against its own
    rate limit (the platform's default limits)."""
    enterprise: AuthenticatedEnterprise | None = request.scope.get("state", {}).get(ENTERPRISE_STATE_KEY)
    if enterprise is None:  # only an app without the gate gets here
        raise EnterpriseUnauthenticated("no enterprise request signature")
    services = services_of(request)
    limits = services.settings.default_limits
    services.limiter.acquire(f"enterprise:{enterprise.account.credit_code}", rate_per_s=limits.rate_per_s,
                             burst=limits.burst, now=services.now().timestamp())
    return enterprise


CurrentEnterprise = Annotated[AuthenticatedEnterprise, Depends(current_enterprise)]


def client_address_of(request: Request) -> str | None:
    """The client address the request gate worked out (for counting failed identity proofs)."""
    return request.scope.get("state", {}).get(CLIENT_STATE_KEY)
