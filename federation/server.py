"""`NodeServer`: the one gRPC server of a node process (mutual TLS, peer admission, health, mailboxes).

Every service a node offers (the data-plane Mailbox, the standard health service, and the role's own
control-plane servicers added with `add_servicer`) sits behind the same TLS settings and the same
`PeerAuthInterceptor`, so no service can forget the revocation or role check, and behind the one error
translator (`federation.grpc_errors`), so a servicer raises catalogue errors and no internal text leaves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from concurrent import futures
from typing import Any

import grpc
from cryptography import x509
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from federation.chunking import DEFAULT_MAX_PAYLOAD_BYTES, GRPC_MESSAGE_OPTIONS, MAILBOX_SERVICE
from federation.grpc_errors import ErrorTranslator
from federation.mailbox_service import MailboxRouter, MailboxServicer
from federation.peer_auth import PeerAuthInterceptor, peer_identity
from federation.pki import ROLES, NodeTls, check_validity, utcnow
from federation.request_id_interceptor import RequestIdInterceptor
from federation.revocation import RevocationWatcher

__all__ = ["NodeServer", "peer_identity"]

_WILDCARD_HOSTS = {"0.0.0.0", "[::]", "::", ""}


class NodeServer:
    """One mTLS gRPC server per process, serving the mailboxes of every job the node takes part in."""

    def __init__(
        self,
        tls: NodeTls,
        *,
        bind: str = "127.0.0.1:0",
        allowed_roles: Iterable[str] | None = None,
        limited_roles: Mapping[str, Iterable[str]] | None = None,
        max_workers: int = 16,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        roles = None if allowed_roles is None else frozenset(allowed_roles)
        limited = {role: frozenset(methods) for role, methods in (limited_roles or {}).items()}
        for named in (roles or frozenset(), frozenset(limited)):
            if not named <= ROLES:
                raise ValueError(f"unknown roles {sorted(named - ROLES)}: expected a subset of {sorted(ROLES)}")
        self.tls = tls
        self._bind = bind
        revocation = None
        if tls.crl_path is not None:
            revocation = RevocationWatcher(tls.crl_path, x509.load_pem_x509_certificate(tls.ca_pem))
        self.mailboxes = MailboxRouter()
        self._health = health.HealthServicer()
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="xyd-grpc"),
            interceptors=[PeerAuthInterceptor(revocation, allowed_roles=roles, limited_roles=limited, clock=clock),
                          RequestIdInterceptor(), ErrorTranslator()],
            # Without SO_REUSEPORT a second server on a taken port fails to start instead of sharing it.
            options=[*GRPC_MESSAGE_OPTIONS, ("grpc.so_reuseport", 0)],
        )
        MailboxServicer(self.mailboxes, max_payload_bytes=max_payload_bytes).add_to_server(self._server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        self._clock = clock
        self._port: int | None = None

    def add_servicer(self, add_fn: Callable[[Any, grpc.Server], None], servicer: Any) -> None:
        """Register a generated `add_XServicer_to_server` with its servicer; only before `start`."""
        if self._port is not None:
            raise RuntimeError("add_servicer must be called before start()")
        add_fn(servicer, self._server)

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

    def stop(self, grace: float = 1.0) -> None:
        """Report NOT_SERVING, let running calls finish for up to `grace` seconds, then stop."""
        self._health.enter_graceful_shutdown()
        self._server.stop(grace).wait()

    def wait_for_termination(self, timeout: float | None = None) -> bool:
        """Block until the server stops (or `timeout` passes); True if it stopped."""
        return not self._server.wait_for_termination(timeout)

    def __enter__(self) -> NodeServer:
        if self._port is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
