"""`NodeServer`: the one gRPC server of a node process (mutual TLS, peer admission, health, mailboxes).

Every service a node offers (the data-plane Mailbox, the standard health service, and the role's own
control-plane servicers added with `add_servicer`) sits behind the same TLS settings and the same
`CallGuard`, so no service can forget the revocation or role check, the per-peer limits or the stall
deadlines. Each service names the roles it serves: banks and operators reach the same port as federation
peers, but only the services meant for them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from concurrent import futures
from typing import Any

import grpc
from cryptography import x509
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from federation.call_guard import CallGuard
from federation.call_limits import CallLimits, StallWatchdog
from federation.chunking import GRPC_MESSAGE_OPTIONS, MAILBOX_SERVICE
from federation.grpc_errors import ErrorTranslator
from federation.mailbox_service import MailboxRouter, MailboxServicer
from federation.peer_auth import PeerAdmission, peer_identity
from federation.pki import ROLES, NodeTls, check_validity, utcnow
from federation.request_id_interceptor import RequestIdInterceptor
from federation.revocation import RevocationWatcher

__all__ = ["HEALTH_CHECK_METHOD", "PEER_ROLES", "NodeServer", "peer_identity"]

_WILDCARD_HOSTS = {"0.0.0.0", "[::]", "::", ""}
# The federation's own parties: the only roles that take part in jobs, so the only ones that may push.
PEER_ROLES = frozenset({"coordinator", "platform", "source"})
HEALTH_SERVICE = "grpc.health.v1.Health"
HEALTH_CHECK_METHOD = "/grpc.health.v1.Health/Check"
# HTTP/2 streams one connection may open at once; more connections each pass the per-peer slots anyway.
_MAX_STREAMS_PER_CONNECTION = 64


class NodeServer:
    """One mTLS gRPC server per process, serving the mailboxes of every job the node takes part in."""

    def __init__(
        self,
        tls: NodeTls,
        *,
        bind: str = "127.0.0.1:0",
        advertise: str | None = None,
        allowed_roles: Iterable[str] | None = None,
        limited_roles: Mapping[str, Iterable[str]] | None = None,
        limits: CallLimits | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        roles = None if allowed_roles is None else frozenset(allowed_roles)
        limited = {role: frozenset(methods) for role, methods in (limited_roles or {}).items()}
        for named in (roles or frozenset(), frozenset(limited)):
            if not named <= ROLES:
                raise ValueError(f"unknown roles {sorted(named - ROLES)}: expected a subset of {sorted(ROLES)}")
        self.tls = tls
        self.limits = limits or CallLimits()
        self._bind = bind
        self._roles = roles if roles is not None else ROLES
        self._advertise = advertise
        revocation = None
        if tls.crl_path is not None:
            revocation = RevocationWatcher(tls.crl_path, x509.load_pem_x509_certificate(tls.ca_pem))
        self.mailboxes = MailboxRouter(max_message_bytes=self.limits.max_message_bytes,
                                       max_unread_bytes=self.limits.max_unread_bytes)
        self._health = health.HealthServicer()
        self._service_roles: dict[str, frozenset[str]] = {}
        self._watchdog = StallWatchdog()
        admission = PeerAdmission(revocation, allowed_roles=roles, service_roles=self._service_roles,
                                  limited_roles=limited, clock=clock)
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=self.limits.workers, thread_name_prefix="xyd-grpc"),
            interceptors=[CallGuard(admission, self.limits, self._watchdog), RequestIdInterceptor(), ErrorTranslator()],
            # Without SO_REUSEPORT a second server on a taken port fails to start instead of sharing it.
            options=[*GRPC_MESSAGE_OPTIONS, ("grpc.so_reuseport", 0),
                     ("grpc.max_concurrent_streams", _MAX_STREAMS_PER_CONNECTION)],
            # Calls beyond this are refused at once (RESOURCE_EXHAUSTED) rather than queued without bound.
            maximum_concurrent_rpcs=self.limits.workers * 4,
        )
        MailboxServicer(self.mailboxes).add_to_server(self._server)
        self._service_roles[MAILBOX_SERVICE] = PEER_ROLES & self._roles
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        self._service_roles[HEALTH_SERVICE] = self._roles
        self._clock = clock
        self._port: int | None = None

    def add_servicer(self, add_fn: Callable[[Any, grpc.Server], None], servicer: Any, *,
                     roles: Iterable[str] | None = None) -> None:
        """Register a generated `add_XServicer_to_server` with its servicer; only before `start`.

        `roles`: the roles its service serves (refused with PERMISSION_DENIED otherwise); by default every
        role the server admits.
        """
        if self._port is not None:
            raise RuntimeError("add_servicer must be called before start()")
        served = self._roles if roles is None else frozenset(roles)
        if not served <= ROLES:
            raise ValueError(f"unknown roles {sorted(served - ROLES)}: expected a subset of {sorted(ROLES)}")
        recorder = _ServiceRecorder(self._server)
        add_fn(servicer, recorder)
        if not recorder.names:
            raise ValueError(f"{add_fn.__name__} registered no service")
        for name in recorder.names:
            self._service_roles[name] = served & self._roles

    def start(self) -> int:
        """Bind with mutual TLS (client certificates required) and start serving; return the bound port."""
        if self._port is not None:
            raise RuntimeError("server already started")
        check_validity(
            self.tls.certificate, now=self._clock()
        )  # clients would refuse it anyway, less clearly
        credentials = grpc.ssl_server_credentials(
            [(self.tls.key_pem, self.tls.cert_pem)],
            root_certificates=self.tls.ca_pem,
            require_client_auth=True,
        )
        try:
            port = self._server.add_secure_port(self._bind, credentials)
        except RuntimeError as exc:  # grpcio raises on some bind failures and returns 0 on others
            raise OSError(f"cannot bind {self._bind}: {exc}") from exc
        if port == 0:
            raise OSError(f"cannot bind {self._bind}")
        self._server.start()
        self._watchdog.start()
        self._port = port
        for service in ("", MAILBOX_SERVICE):
            self._health.set(service, health_pb2.HealthCheckResponse.SERVING)
        return port

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("server not started")
        return self._port

    @property
    def address(self) -> str:
        """`host:port` to dial on this machine (a wildcard bind is reported as 127.0.0.1)."""
        host = self._bind.rsplit(":", 1)[0]
        return f"{'127.0.0.1' if host in _WILDCARD_HOSTS else host}:{self.port}"

    @property
    def advertised_address(self) -> str:
        """`host:port` peers on other hosts dial: `advertise` (its port defaulting to the bound one) or, when
        none was given, `address`."""
        if not self._advertise:
            return self.address
        has_port = self._advertise.rsplit("]", 1)[-1].count(":") == 1
        return self._advertise if has_port else f"{self._advertise}:{self.port}"

    @property
    def listens_on_all_interfaces(self) -> bool:
        return self._bind.rsplit(":", 1)[0] in _WILDCARD_HOSTS

    def stop(self, grace: float = 1.0) -> None:
        """Report NOT_SERVING, let running calls finish for up to `grace` seconds, then stop."""
        self._health.enter_graceful_shutdown()
        self._server.stop(grace).wait()
        self._watchdog.stop()

    def wait_for_termination(self, timeout: float | None = None) -> bool:
        """Block until the server stops (or `timeout` passes); True if it stopped."""
        return not self._server.wait_for_termination(timeout)

    def __enter__(self) -> NodeServer:
        if self._port is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _ServiceRecorder:
    """Passes a generated `add_XServicer_to_server`'s registrations to the server, noting the service names."""

    def __init__(self, server: grpc.Server) -> None:
        self._server = server
        self.names: list[str] = []

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        self.names += [h.service_name() for h in handlers if hasattr(h, "service_name")]
        self._server.add_generic_rpc_handlers(handlers)

    def add_registered_method_handlers(self, service_name: str, handlers: Any) -> None:
        self.names.append(service_name)
        self._server.add_registered_method_handlers(service_name, handlers)
