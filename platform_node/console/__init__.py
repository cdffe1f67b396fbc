"""The web console: server-rendered pages over the same services, roles and rules as the HTTP API.

`install_console(app)` adds the pages under `/console` to the platform's FastAPI app. The request gate
(`platform_node/api/request_gate.py` with `gate.py` here) checks a console session before any body is read;
pages reuse the API's service functions (never HTTP to itself), so a page shows a bank nothing the API would
not. Templates and the style sheet ship with the package; nothing is loaded from outside.
"""

from __future__ import annotations

from fastapi import FastAPI

__all__ = ["install_console"]


def install_console(app: FastAPI) -> None:
    """Add every console route and render console errors as pages (after the API's error handlers)."""
    from platform_node.console.errors import install_console_errors
    from platform_node.console.routers import (
        bank,
        compliance,
        enterprise,
        login,
        operator,
        source_admin,
        statistics,
    )

    for module in (login, bank, compliance, operator, statistics, enterprise, source_admin):
        app.include_router(module.router)
    install_console_errors(app)
