"""The source node's admin HTTP endpoint: bound to the node's admin address (loopback by default), every request
signed with the unit administrator's approval key (`consent.governance.admin_signature`), JSON in and out.

    GET  /admin/approvals[?status=S]            POST /admin/approvals/ID/approve   {"signed": {...}}
    GET  /admin/approvals/ID                    POST /admin/approvals/ID/ACTION    {"reason": "..."}
    POST /admin/sync                                 (ACTION: decline | suspend | resume | revoke)
    POST /admin/requests {"terms": {...}}       (a request filed on the node itself)
    GET  /admin/catalogue                       GET  /admin/expansions
    POST /admin/expansions/ID/accept {"reason", "item": {...}}     POST /admin/expansions/ID/decline {"reason"}
    GET  /admin/usage?from=ISO&to=ISO
Errors are {"error": CODE, "message": text} with 400, 401, 404, 409 or 502; nothing echoes a stored value.

Under `/console/` the same server serves the administrator's web console (`console/`): the same key, checked
by the same verifier (one replay window), signed in the browser.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from consent.audit import AuditError
from consent.governance import (
    ApprovalTerms,
    GovernanceError,
    IllegalApprovalTransition,
    SignedApproval,
    StaleApprovalStatus,
    UnknownApproval,
)
from consent.governance.admin_signature import AdminAuthError, AdminVerifier
from consent.governance.approval import approval_key_id
from federation.key_binding import BindingVerifier, KeyBindingInvalid
from federation.pki import NodeTls
from federation.proto import control_pb2
from source_node.governance.admin import MOVES, AdminDesk
from source_node.governance.console import AdminConsole, ConsoleRequest, is_console
from source_node.governance.console.site import security_headers
from source_node.governance.coordinator_link import CoordinatorLink, CoordinatorUnreachable
from source_node.governance.node_governance import SourceGovernance

log = logging.getLogger("xyd.source.admin")
MAX_BODY = 1 << 20
_APPROVAL = r"(?P<id>apv-[0-9a-f]{32})"
_EXPANSION = r"(?P<id>exp-[0-9a-f]{16})"


class HttpError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


class AdminServer:
    """A threaded HTTP server in the node process; `start()` returns its URL."""

    def __init__(self, desk: AdminDesk, verifier: AdminVerifier, bind: str, *, clock: Callable[[], int],
                 console: AdminConsole | None = None) -> None:
        host, _, port = bind.rpartition(":")
        self._desk, self._verifier, self._clock, self._console = desk, verifier, clock, console
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                server._handle(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                server._handle(self, "POST")

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
                log.debug("admin http: " + format, *args)

        self._http = ThreadingHTTPServer((host or "127.0.0.1", int(port or 0)), Handler)
        self._http.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> str:
        self._thread = threading.Thread(target=self._http.serve_forever, name="xyd-admin-http", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        if self._console is not None and is_console(urlsplit(request.path).path):
            self._serve_console(request, method)
            return
        try:
            length = int(request.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                raise HttpError(413, "TOO_LARGE", "request body too large")
            body = request.rfile.read(length) if length else b""
            try:
                self._verifier.verify(method, request.path, request.headers, body, now=self._clock())
            except AdminAuthError as exc:
                log.warning("admin request refused: %s", exc)
                raise HttpError(401, "UNAUTHENTICATED",
                                "the request is not signed by this unit's administrator") from None
            reply = self._route(method, request.path, json.loads(body) if body else {})
            status = 200
        except HttpError as exc:
            status, reply = exc.status, {"error": exc.code, "message": str(exc)}
        except UnknownApproval:
            status, reply = 404, {"error": "NOT_FOUND", "message": "no such approval on this node"}
        except (IllegalApprovalTransition, StaleApprovalStatus) as exc:
            status, reply = 409, {"error": "ILLEGAL_TRANSITION", "message": str(exc)}
        except (CoordinatorUnreachable, KeyBindingInvalid, AuditError) as exc:
            status, reply = 502, {"error": "COORDINATOR_UNREACHABLE", "message": str(exc)}
        except (GovernanceError, ValueError, KeyError, TypeError) as exc:
            status, reply = 400, {"error": "BAD_REQUEST", "message": str(exc)}
        data = json.dumps(reply, sort_keys=True).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def _serve_console(self, request: BaseHTTPRequestHandler, method: str) -> None:
        """A console page or form: the console decides, this writes its reply."""
        assert self._console is not None
        length = int(request.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            request.send_error(413)
            return
        body = request.rfile.read(length) if length else b""
        reply = self._console.handle(ConsoleRequest(method, request.path, request.headers, body))
        request.send_response(reply.status)
        request.send_header("Content-Type", reply.media_type)
        request.send_header("Content-Length", str(len(reply.body)))
        for name, value in security_headers(reply):
            request.send_header(name, value)
        request.end_headers()
        request.wfile.write(reply.body)

    def _route(self, method: str, target: str, body: dict[str, Any]) -> Any:
        parts = urlsplit(target)
        path, query = parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()}
        desk = self._desk
        if method == "GET" and path == "/admin/approvals":
            return {"approvals": desk.list(query.get("status"))}
        if method == "POST" and path == "/admin/sync":
            return desk.sync()
        if method == "POST" and path == "/admin/requests":
            return desk.file(ApprovalTerms.from_json(body["terms"]))
        if method == "GET" and path == "/admin/catalogue":
            return desk.catalogue()
        if method == "GET" and path == "/admin/expansions":
            return {"requests": desk.expansions()}
        if method == "GET" and path == "/admin/usage":
            return desk.usage(query.get("from", ""), query.get("to", ""))
        if match := re.fullmatch(rf"/admin/approvals/{_APPROVAL}", path):
            if method == "GET":
                return desk.show(match["id"])
        if method == "POST" and (match := re.fullmatch(rf"/admin/approvals/{_APPROVAL}/(?P<action>\w+)", path)):
            if match["action"] == "approve":
                return desk.approve(match["id"], SignedApproval.from_json(body["signed"]))
            if match["action"] in MOVES:
                return desk.move(match["id"], match["action"], str(body.get("reason", "")))
        if method == "POST" and (match := re.fullmatch(rf"/admin/expansions/{_EXPANSION}/(?P<action>accept|decline)",
                                                       path)):
            return desk.decide_expansion(match["id"], accept=match["action"] == "accept",
                                         reason=str(body.get("reason", "")), item=body.get("item"))
        raise HttpError(404, "NOT_FOUND", "no such admin resource")


class AdminEndpoint:
    """The admin server and its coordinator link, as the node runs them; `close()` stops both."""

    def __init__(self, server: AdminServer, link: CoordinatorLink | None) -> None:
        self.server, self.link = server, link

    def close(self) -> None:
        self.server.stop()
        if self.link is not None:
            self.link.close()


def start_admin_endpoint(governance: SourceGovernance, *, tls: NodeTls, coordinator: str | None, state_dir: Path,
                         describe: Callable[[], control_pb2.NodeDescription]) -> AdminEndpoint:
    """Serve the admin endpoint on `[governance] admin_listen`; its URL goes to `<state_dir>/admin_url`."""
    link = None
    if coordinator:
        link = CoordinatorLink(coordinator, tls, describe,
                               lambda: (state_dir / "address").read_text(encoding="utf-8").strip())
    actor = f"{governance.party}/admin-{approval_key_id(governance.store.approval_key)}"
    desk = AdminDesk(governance, link, actor=actor, bindings=BindingVerifier(tls.ca_pem, tls.crl_path))
    verifier = AdminVerifier(governance.store.approval_key)

    def clock() -> int:
        return int(governance.clock().timestamp())

    console = AdminConsole(desk, verifier, clock=clock, unit=governance.party,
                           key_id=approval_key_id(governance.store.approval_key))
    server = AdminServer(desk, verifier, governance.admin_listen, clock=clock, console=console)
    url = server.start()
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp = state_dir / "admin_url.tmp"
    tmp.write_text(url, encoding="utf-8")
    tmp.replace(state_dir / "admin_url")
    log.info("admin endpoint serving", extra={"url": url})
    return AdminEndpoint(server, link)
