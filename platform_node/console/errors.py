"""Console errors as pages: the API's error catalogue, shown as HTML on console paths.

A console page raises `ConsoleError` (a status and a catalogue key) or lets any domain error through; the
API's handlers (`platform_node.api.errors`) decide the status, code and public text exactly as for the API,
and on a `/console` path the answer is rendered as a page instead of JSON. So the console shows nothing the
API would not, in either language.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import Response

from errors import XydError


class ConsoleError(XydError):
    """A refusal written for the console: its status and a message key of the catalogue."""

    def __init__(self, status: int, message_key: str, *, code: str = "CONSOLE_ERROR", **values: Any) -> None:
        super().__init__(message_key, code=code, public=message_key)
        self.status, self.message_key, self.values = status, message_key, values


def _is_console(request: Request) -> bool:
    path = request.url.path
    return path == "/console" or path.startswith("/console/")


def _page(request: Request, status: int, code: str, message: str | None, message_key: str | None,
          values: dict[str, Any], headers: dict[str, str]) -> Response:
    from platform_node.console.render import page  # the templates load on first error, not at import

    return page(request, "error.html", status=status, headers=headers, code=code, message=message,
                message_key=message_key, values=values)


async def _console_error(request: Request, exc: ConsoleError) -> Response:
    return _page(request, exc.status, exc.code, None, exc.message_key, exc.values, {})


Handler = Callable[[Request, Exception], Awaitable[Response]]


def _as_page(handler: Handler) -> Handler:
    async def handle(request: Request, exc: Exception) -> Response:
        response = await handler(request, exc)
        if not _is_console(request) or response.media_type != "application/json":
            return response
        body = json.loads(bytes(response.body))
        kept = {k: v for k, v in response.headers.items() if k.lower() in ("retry-after",)}
        return _page(request, response.status_code, body.get("code", "ERROR"), body.get("message"), None, {}, kept)

    return handle


def install_console_errors(app: FastAPI) -> None:
    """Render every error on a console path as a page (call after the API's handlers are installed)."""
    for kind, handler in list(app.exception_handlers.items()):
        app.exception_handlers[kind] = _as_page(handler)
    app.exception_handlers[ConsoleError] = _console_error
