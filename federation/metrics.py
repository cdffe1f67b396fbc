"""A node's operations surface: Prometheus metrics, liveness and readiness on a small HTTP listener.

Every node process (coordinator, platform, source) serves, when its config has `[metrics] listen`:
- `GET /metrics`: the process's Prometheus registry (text format 0.0.4);
- `GET /healthz`: 200 while the process runs (liveness);
- `GET /readyz`: 200 once every readiness check the role registered passes, else 503 naming the checks that
  do not (readiness: table loaded, gRPC serving, registered with the coordinator, ...).
The listener is off unless configured: it is plain HTTP without authentication, meant for a loopback or
management address that only the operator's Prometheus reaches. Metric values are counts and durations of
the node's own work; no label carries an enterprise, a credit code, an institution or any value of a table.

The metrics every node shares are defined here: gRPC calls served and refused (by method and catalogue code,
counted by the error translator).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

from federation.config import ConfigError

log = logging.getLogger("xyd.metrics")

# Buckets from 1 ms to 30 s: a scoring share takes milliseconds, a control call or a stage seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

GRPC_HANDLED = Histogram("xyd_grpc_server_handling_seconds", "Time to answer a gRPC call, by method",
                         ["method"], buckets=LATENCY_BUCKETS)
GRPC_REFUSALS = Counter("xyd_grpc_refusals_total",
                        "gRPC calls answered with an error, by method and catalogue code (INTERNAL: unexpected)",
                        ["method", "code"])


class Readiness:
    """Named readiness checks of one process; each is a callable that returns True when that part is ready.

    A check that raises counts as not ready (its exception is logged, never served)."""

    def __init__(self) -> None:
        self._checks: dict[str, Callable[[], bool]] = {}
        self._lock = threading.Lock()

    def add(self, name: str, check: Callable[[], bool]) -> None:
        with self._lock:
            self._checks[name] = check

    def flag(self, name: str) -> threading.Event:
        """A check that passes once the returned event is set (for one-off steps such as registration)."""
        event = threading.Event()
        self.add(name, event.is_set)
        return event

    def status(self) -> dict[str, bool]:
        with self._lock:
            checks = dict(self._checks)
        results = {}
        for name, check in checks.items():
            try:
                results[name] = bool(check())
            except Exception:
                log.exception("readiness check failed", extra={"check": name})
                results[name] = False
        return results


def parse_listen(section: Mapping[str, Any], where: str = "[metrics]") -> tuple[str, int] | None:
    """`[metrics] listen = "host:port"` as (host, port); None when the section does not name one."""
    unknown = sorted(set(section) - {"listen"})
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown}; valid: ['listen']")
    listen = section.get("listen")
    if listen is None:
        return None
    host, sep, port = str(listen).rpartition(":")
    if not sep or not port.isdigit() or not host or int(port) > 65535:
        raise ConfigError(f"{where} listen must be host:port (port 0 picks a free one)")
    return host.strip("[]"), int(port)


class MetricsListener:
    """The HTTP listener of `/metrics`, `/healthz` and `/readyz` (see the module docstring)."""

    def __init__(self, host: str, port: int, readiness: Readiness, *,
                 registry: CollectorRegistry = REGISTRY) -> None:
        handler = _handler_for(readiness, registry)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="xyd-metrics", daemon=True)

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def start(self) -> str:
        """Serve in a daemon thread; returns `host:port`."""
        self._thread.start()
        log.info("metrics serving", extra={"address": self.address})
        return self.address

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler_for(readiness: Readiness, registry: CollectorRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "xyd-metrics"
        sys_version = ""

        def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._answer(200, generate_latest(registry), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                self._json(200, {"status": "ok"})
            elif path == "/readyz":
                checks = readiness.status()
                ready = all(checks.values())
                self._json(200 if ready else 503, {"status": "ready" if ready else "not ready", "checks": checks})
            else:
                self._json(404, {"code": "NOT_FOUND", "message": "not found"})

        def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
            # http.server's own error page repeats the method and path it was sent: answer a fixed body instead.
            self._json(code, {"code": "HTTP_ERROR", "message": "not served here"})

        def _json(self, status: int, body: dict) -> None:
            self._answer(status, json.dumps(body, sort_keys=True).encode(), "application/json")

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's signature
            pass  # scrapes every few seconds would drown the node's log

    return Handler
