"""The API's request ids and HTTP metrics, in one pure ASGI middleware outside every other layer.

Each request gets its id (`x-request-id` if well formed, else a fresh one; `federation.request_ids`), bound for
the request's whole path in this process (log lines, the scoring fan-out's gRPC metadata) and returned in the
`x-request-id` response header. Its duration is observed in `xyd_http_request_seconds{method, route, status}`,
where `route` is the route's template (`/v1/uses/{use_id}`), never the path a client sent, so no label carries
a credit code or an id and an unknown path is `unmatched`. Refusals are counted by their public code in
`xyd_http_refusals_total{code}` where the error bodies are made (`errors.py`, `request_gate.py`).
"""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from federation.metrics import LATENCY_BUCKETS
from federation.request_ids import HEADER, REQUEST_ID, accept_request_id

HTTP_REQUESTS = Histogram("xyd_http_request_seconds", "Time to answer an API request, by route template and status",
                          ["method", "route", "status"], buckets=LATENCY_BUCKETS)
HTTP_REFUSALS = Counter("xyd_http_refusals_total", "API requests refused, by public error code", ["code"])
_HEADER_BYTES = HEADER.encode("ascii")


def count_refusal(code: str) -> None:
    """Count one refused request under its public code."""
    HTTP_REFUSALS.labels(code).inc()


class RequestObservation:
    """Binds the request id and times each HTTP request (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = None
        for name, value in scope["headers"]:
            if name == _HEADER_BYTES:
                offered = value.decode("latin-1")
                break
        request_id = accept_request_id(offered)
        header = (_HEADER_BYTES, request_id.encode("ascii"))
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        token = REQUEST_ID.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)
            route = getattr(scope.get("route"), "path", "unmatched")
            HTTP_REQUESTS.labels(scope["method"], route, str(status)).observe(time.perf_counter() - started)
