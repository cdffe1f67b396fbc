"""Console dependencies: the logged-in session with the role a page needs, and CSRF-checked forms.

The request gate has already resolved the session (or refused the request); a page's dependency checks the
role exactly as the API's role dependencies do and charges the institution's rate limit. Every POST reads
its form through `checked_form`, which refuses a form whose CSRF token is not the session's.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from platform_node.api.deps import services_of
from platform_node.console.errors import ConsoleError
from platform_node.console.render import session_of
from platform_node.console.sessions import ConsoleSession
from platform_node.institutions.model import Role
from webconsole.tokens import CSRF_FIELD, same_token


async def current_session(request: Request) -> ConsoleSession:
    session = session_of(request)
    if session is None:  # the gate lets no protected path through without one; an app run without the gate
        raise ConsoleError(401, "login.expired")
    services = services_of(request)
    limits = session.institution.limits
    services.limiter.acquire(session.institution.id, rate_per_s=limits.rate_per_s, burst=limits.burst,
                             now=services.now().timestamp())
    return session


Session = Annotated[ConsoleSession, Depends(current_session)]


def _role(*roles: Role):
    async def check(session: Session) -> ConsoleSession:
        if session.institution.role not in roles:
            raise ConsoleError(403, "common.error", code="FORBIDDEN_ROLE")
        return session

    return check


BankSession = Annotated[ConsoleSession, Depends(_role(Role.BANK))]
ComplianceSession = Annotated[ConsoleSession, Depends(_role(Role.COMPLIANCE))]
AdminSession = Annotated[ConsoleSession, Depends(_role(Role.ADMIN))]
StatisticsSession = Annotated[ConsoleSession, Depends(_role(Role.STATISTICS, Role.COMPLIANCE, Role.ADMIN, Role.BANK))]


async def checked_form(request: Request, session: ConsoleSession) -> FormData:
    """The POSTed form, if its CSRF token is the session's (compared in constant time)."""
    form = await request.form()
    if not same_token(form.get(CSRF_FIELD), session.csrf):
        raise ConsoleError(403, "common.csrf_failed", code="CSRF_FAILED")
    return form
