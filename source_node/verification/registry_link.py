"""The source node's side of the consent registry: registry keys, online status, enterprise keys.

Everything comes over mutual TLS from the server whose certificate names the platform, and what the node
keeps is signed: the registry's keys by the platform's certificate (checked against the CA), statuses and
enterprise-key statements by the registry key. Short-lived signed copies are cached, so a registry outage
is bridged for at most their lifetime (5 minutes for a status, the statement's `expires_at` for a key).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from consent.audit import Ed25519Verifier
from consent.authorisation import (
    AuthorisationRefused,
    EnterpriseKey,
    FieldCatalogue,
    RefusalReason,
    SignedStatus,
    Status,
    StatusUnavailable,
    UnknownAuthorisation,
    UnknownEnterpriseKey,
)
from errors import Unavailable
from federation.grpc_channel import open_secure_channel
from federation.key_binding import (
    ENTERPRISE_KEY_DOMAIN,
    BindingVerifier,
    KeyPurpose,
    StatementInvalid,
    log_origin,
    open_statement,
)
from federation.pki import Identity, NodeTls
from federation.proto import verification_pb2, verification_pb2_grpc

PLATFORM = Identity("platform", "main")
STATUS_MAX_TTL = timedelta(minutes=5)
CLOCK_SKEW = timedelta(seconds=30)
CACHE_ENTRIES = 10_000  # statements kept per cache; the oldest are dropped past this


def utc_now() -> datetime:
    return datetime.now(UTC)


class RegistryUnreachable(Unavailable):
    """The platform's consent registry did not answer (down, partitioned, or refused us)."""


@dataclass(frozen=True)
class RegistryKeys:
    """The registry's keys as the platform's certificate vouches for them."""

    status_key: Ed25519PublicKey
    log: Ed25519Verifier


class RegistryLink:
    """A gRPC client of the platform's `ConsentRegistry`, pinned to the platform's certificate."""

    def __init__(
        self,
        address: str,
        tls: NodeTls,
        *,
        bindings: BindingVerifier,
        platform: Identity = PLATFORM,
        timeout: float = 2.0,
    ) -> None:
        self.platform = platform
        self._channel = open_secure_channel(address, tls, platform)
        self._stub = verification_pb2_grpc.ConsentRegistryStub(self._channel)
        self._bindings = bindings
        self._timeout = timeout

    def _call(self, method: Callable, request, *, timeout: float | None = None):
        try:
            return method(request, timeout=timeout or self._timeout)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                raise LookupError(exc.details() or "not found") from exc
            raise RegistryUnreachable(f"{exc.code().name}: {exc.details()}") from exc

    def registry_keys(self, *, now: datetime) -> RegistryKeys:
        """Fetch the registry's keys and check the platform's certificate binding on them."""
        reply = self._call(self._stub.RegistryKeys, verification_pb2.RegistryKeysRequest())
        bound = self._bindings.verify(reply.registry_keys, expected=self.platform, now=now)
        status_key = Ed25519PublicKey.from_public_bytes(bound.key(KeyPurpose.STATUS_SIGNING))
        log_key = Ed25519PublicKey.from_public_bytes(bound.key(KeyPurpose.AUDIT_LOG))
        return RegistryKeys(status_key, Ed25519Verifier(log_origin(self.platform), log_key))

    def announce(self, address: str, keys: verification_pb2.KeyBinding, catalogue: FieldCatalogue | None = None) -> str:
        """Tell the registry where this node answers, with its keys and the data items it answers about."""
        fields = [] if catalogue is None else [
            verification_pb2.CatalogueField(name=f.name, category=f.category, sensitivity=f.sensitivity.value,
                                            value_type=f.value_type.value, period=f.period or "")
            for f in sorted(catalogue, key=lambda f: f.name)]
        reply = self._call(self._stub.Announce,
                           verification_pb2.Announcement(address=address, keys=keys, catalogue=fields))
        return reply.party

    def signed_status(self, authorisation_id: str) -> SignedStatus:
        try:
            reply = self._call(self._stub.Status, verification_pb2.StatusQuery(authorisation_id=authorisation_id))
        except LookupError as exc:
            raise UnknownAuthorisation(authorisation_id) from exc
        except RegistryUnreachable as exc:
            raise StatusUnavailable(str(exc)) from exc
        return SignedStatus(reply.statement, reply.signature)

    def enterprise_key(self, credit_code: str, key_id: str) -> verification_pb2.SignedStatement:
        """The registry-signed statement of one enterprise key; raises `UnknownEnterpriseKey` or
        `RegistryUnreachable`."""
        try:
            return self._call(
                self._stub.EnterpriseKey, verification_pb2.EnterpriseKeyQuery(credit_code=credit_code, key_id=key_id)
            )
        except LookupError as exc:
            raise UnknownEnterpriseKey(credit_code, key_id) from exc

    def close(self) -> None:
        self._channel.close()


class RemoteStatusSource:
    """`StatusSource` asking the registry online; while it is unreachable, a cached signed statement still
    counts until it expires (at most `STATUS_MAX_TTL` after the registry issued it)."""

    def __init__(self, link: RegistryLink, status_key: Ed25519PublicKey) -> None:
        self._link = link
        self._key = status_key
        self._cache: dict[str, SignedStatus] = {}
        self._lock = threading.Lock()

    def _status_of(self, signed: SignedStatus, authorisation_id: str, now: datetime) -> Status:
        return signed.verify(
            self._key, authorisation_id=authorisation_id, now=now, max_ttl=STATUS_MAX_TTL, clock_skew=CLOCK_SKEW
        ).status

    def current_status(self, authorisation_id: str, *, now: datetime) -> Status:
        try:
            signed = self._link.signed_status(authorisation_id)
        except StatusUnavailable:
            with self._lock:
                cached = self._cache.get(authorisation_id)
            if cached is None:
                raise
            try:
                return self._status_of(cached, authorisation_id, now)
            except AuthorisationRefused as exc:  # the cached statement has expired
                raise StatusUnavailable(f"registry unreachable and cached status unusable: {exc}") from exc
        status = self._status_of(signed, authorisation_id, now)
        with self._lock:
            self._cache[authorisation_id] = signed
            if len(self._cache) > CACHE_ENTRIES:
                del self._cache[next(iter(self._cache))]
        return status


@dataclass(frozen=True)
class _CachedKey:
    key: EnterpriseKey
    fetched_at: datetime
    expires_at: datetime


class RemoteEnterpriseKeys:
    """`EnterpriseKeyLookup` over the registry: statements are re-fetched after `refresh` (so a revocation
    is seen within it) and used while the registry is unreachable until they expire."""

    def __init__(
        self,
        link: RegistryLink,
        status_key: Ed25519PublicKey,
        *,
        clock: Callable[[], datetime] = utc_now,
        refresh: timedelta = timedelta(seconds=30),
    ) -> None:
        self._link = link
        self._key = status_key
        self._clock = clock
        self._refresh = refresh
        self._cache: dict[tuple[str, str], _CachedKey] = {}
        self._lock = threading.Lock()

    def key_for(self, credit_code: str, key_id: str, *, at: datetime) -> Ed25519PublicKey:
        now = self._clock()
        with self._lock:
            cached = self._cache.get((credit_code, key_id))
        if cached is None or now >= cached.fetched_at + self._refresh or now >= cached.expires_at:
            try:
                cached = self._fetch(credit_code, key_id, now)
            except RegistryUnreachable as exc:
                if cached is None or now >= cached.expires_at:
                    raise AuthorisationRefused(RefusalReason.STATUS_UNAVAILABLE,
                                               f"enterprise key unknown and registry unreachable: {exc}") from exc
        cached.key.check_valid_at(at)
        return cached.key.public_key

    def _fetch(self, credit_code: str, key_id: str, now: datetime) -> _CachedKey:
        signed = self._link.enterprise_key(credit_code, key_id)
        try:
            statement = open_statement(signed, self._key, ENTERPRISE_KEY_DOMAIN, verification_pb2.EnterpriseKeyStatement)
        except StatementInvalid as exc:
            raise AuthorisationRefused(RefusalReason.UNKNOWN_ENTERPRISE_KEY, str(exc)) from exc
        if (statement.credit_code, statement.key_id) != (credit_code, key_id):
            raise AuthorisationRefused(RefusalReason.UNKNOWN_ENTERPRISE_KEY, "statement is about another key")

        def moment(seconds: int) -> datetime:
            return datetime.fromtimestamp(seconds, UTC)

        key = EnterpriseKey(
            credit_code=credit_code,
            key_id=key_id,
            public_key=Ed25519PublicKey.from_public_bytes(statement.public_key),
            valid_from=moment(statement.valid_from),
            valid_until=moment(statement.valid_until) if statement.HasField("valid_until") else None,
            revoked_at=moment(statement.revoked_at) if statement.HasField("revoked_at") else None,
        )
        cached = _CachedKey(key, now, moment(statement.expires_at))
        with self._lock:
            self._cache[(credit_code, key_id)] = cached
            if len(self._cache) > CACHE_ENTRIES:
                del self._cache[next(iter(self._cache))]
        return cached
