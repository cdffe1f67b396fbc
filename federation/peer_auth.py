"""Who is calling: the peer identity of a gRPC call, and the admission check that accepts or refuses it.

The TLS handshake already proved the client holds a key certified by the CA. Admission adds what gRPC
Python cannot do itself: refuse revoked certificates (CRL), certificates outside their validity window at
the server's clock, and roles the server or the called service does not serve. `CallGuard`
(`federation/call_guard.py`) runs it on every call before anything of the request is read.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable, Mapping

import grpc
from cryptography import x509

from federation.pki import (
    CertificateNotValid,
    CertificateRevoked,
    Identity,
    InvalidIdentity,
    PkiError,
    check_validity,
    utcnow,
)
from federation.revocation import RevocationListInvalid, RevocationWatcher

log = logging.getLogger(__name__)


class PeerNotAuthenticated(PkiError):
    """The call carries no verified client certificate naming an xyd identity."""


@functools.lru_cache(maxsize=256)
def _parse_peer(pem: bytes) -> tuple[x509.Certificate, Identity]:
    cert = x509.load_pem_x509_certificate(pem)
    return cert, Identity.from_certificate(cert)


def peer_certificate(context: grpc.ServicerContext) -> tuple[x509.Certificate, Identity]:
    """The verified client certificate of the call and the identity its URI SAN names."""
    pems = context.auth_context().get("x509_pem_cert")
    if not pems:
        raise PeerNotAuthenticated("the call carries no verified client certificate")
    try:
        return _parse_peer(pems[0])
    except (ValueError, InvalidIdentity) as exc:
        raise PeerNotAuthenticated(f"client certificate names no xyd identity: {exc}") from exc


def peer_identity(context: grpc.ServicerContext) -> Identity:
    """The caller's identity, taken from its verified certificate's URI SAN and from nothing else."""
    return peer_certificate(context)[1]


class PeerAdmission:
    """Decides whether the peer of a call may call a service of this server: a valid, unrevoked certificate
    and a role the server (`allowed_roles`) and the service (`service_roles`) admit.

    `service_roles` maps a gRPC service's full name to the roles it serves; the server fills it as services
    are added. A service absent from it serves every role the server admits. `limited_roles` admits a role
    the server does not serve to a few named methods only (full gRPC paths): a source node lets a compliance
    officer's admin certificate ask its witness for the latest cosigned checkpoint, and nothing else.
    """

    def __init__(
        self,
        revocation: RevocationWatcher | None,
        *,
        allowed_roles: frozenset[str] | None = None,
        service_roles: Mapping[str, frozenset[str]] | None = None,
        limited_roles: Mapping[str, frozenset[str]] | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self._revocation = revocation
        self._allowed_roles = allowed_roles
        self._service_roles = service_roles if service_roles is not None else {}
        self._limited_roles = dict(limited_roles or {})
        self._clock = clock

    def admit(self, context: grpc.ServicerContext, service: str = "", method: str = "") -> Identity:
        """The caller's identity; abort the call with UNAUTHENTICATED or PERMISSION_DENIED unless the peer
        may call `method` (the full gRPC path) of `service` on this server."""
        try:
            cert, identity = peer_certificate(context)
            now = self._clock()
            check_validity(cert, now=now)
            if self._revocation is not None:
                self._revocation.check(cert, subject=identity.party, now=now)
        except (PeerNotAuthenticated, CertificateNotValid, CertificateRevoked) as exc:
            log.warning("refused %s: %s", context.peer(), exc)
            context.abort(grpc.StatusCode.UNAUTHENTICATED, str(exc))
        except RevocationListInvalid as exc:
            # Fail closed: without a trustworthy CRL no certificate can be shown unrevoked.
            log.error("refused %s: %s", context.peer(), exc)
            context.abort(
                grpc.StatusCode.UNAUTHENTICATED, "server cannot check revocation: refusing all peers"
            )
        limited = self._limited_roles.get(identity.role)
        if limited is not None and (self._allowed_roles is None or identity.role not in self._allowed_roles):
            if method not in limited:
                log.warning("refused %s: role %s may not call %s", identity, identity.role, method)
                context.abort(grpc.StatusCode.PERMISSION_DENIED,
                              f"role {identity.role!r} may not call this method on this server")
            return identity
        if self._allowed_roles is not None and identity.role not in self._allowed_roles:
            log.warning("refused %s: role %s not allowed", identity, identity.role)
            context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                f"role {identity.role!r} may not call this server (allowed: {sorted(self._allowed_roles)})",
            )
        roles = self._service_roles.get(service)
        if roles is not None and identity.role not in roles:
            # Banks and operators reach the same port as federation peers, but only the services meant for them.
            log.warning("refused %s: role %s may not call %s", identity, identity.role, service)
            context.abort(grpc.StatusCode.PERMISSION_DENIED,
                          f"role {identity.role!r} may not call this service (allowed: {sorted(roles)})")
        return identity
