"""Onboarding and credentials: add, list, suspend, reinstate, rotate keys, authenticate, webhook targets."""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, insert, select, update
from sqlalchemy.exc import IntegrityError

from consent.authorisation.schema import from_epoch, to_epoch
from platform_node.institutions.credentials import IssuedKey, KeyHasher, parse_token
from platform_node.institutions.errors import (
    DuplicateInstitution,
    InstitutionSuspended,
    InvalidCredentials,
    InvalidInstitution,
    UnknownInstitution,
)
from platform_node.institutions.model import (
    Institution,
    InstitutionKind,
    InstitutionLimits,
    InstitutionStatus,
    Role,
    institution_id,
)
from platform_node.institutions.schema import api_keys, institution_metadata, institutions
from platform_node.institutions.webhook_secrets import SecretBox
from platform_node.institutions.webhook_targets import (
    PRODUCTION_POLICY,
    Resolver,
    WebhookPolicy,
    check_webhook_target,
    system_resolver,
)


@dataclass(frozen=True)
class WebhookTarget:
    """Where and with which secret an institution's webhooks are signed and sent."""

    url: str
    secret: bytes


class InstitutionRegistry:
    """The platform's institutions and their API keys, on SQLAlchemy Core."""

    def __init__(
        self,
        engine: Engine,
        hasher: KeyHasher,
        secret_box: SecretBox,
        *,
        randbytes: Callable[[int], bytes] = os.urandom,
        auth_cache_ttl: timedelta = timedelta(seconds=5),
    ) -> None:
        """`auth_cache_ttl` keeps successful authentications in memory for that long (keyed by a hash of the
        token): changes made through this registry apply at once, changes by another process (the CLI)
        within the TTL. `timedelta(0)` disables the cache."""
        self._engine, self._hasher, self._box, self._randbytes = engine, hasher, secret_box, randbytes
        self._ttl = auth_cache_ttl
        self._cache: dict[bytes, tuple[datetime, Institution]] = {}
        self._lock = threading.Lock()

    def create_schema(self) -> None:
        institution_metadata.create_all(self._engine)

    def add(
        self,
        *,
        kind: InstitutionKind | str,
        slug: str,
        name: str,
        role: Role | str,
        now: datetime,
        limits: InstitutionLimits | None = None,
    ) -> tuple[Institution, IssuedKey]:
        """Onboard an institution with its first API key (returned once, stored only as a hash)."""
        ident = institution_id(kind, slug)
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise InvalidInstitution("name must be non-empty text of at most 200 characters")
        try:
            role = Role(role)
        except ValueError:
            raise InvalidInstitution(f"unknown role: one of {', '.join(Role)}") from None
        limits = limits or InstitutionLimits()
        key = self._hasher.issue()
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(institutions).values(
                        id=ident, kind=InstitutionKind(kind).value, name=name.strip(), role=role.value,
                        status=InstitutionStatus.ACTIVE.value, created_at=to_epoch(now),
                        rate_per_s=limits.rate_per_s, burst=limits.burst, daily_quota=limits.daily_quota,
                    )
                )
                self._store_key(conn, ident, key, now)
        except IntegrityError:
            raise DuplicateInstitution(ident) from None
        return self.get(ident), key

    def get(self, ident: str) -> Institution:
        with self._engine.connect() as conn:
            row = conn.execute(select(institutions).where(institutions.c.id == ident)).first()
        if row is None:
            raise UnknownInstitution(ident)
        return _to_institution(row)

    def list(self, *, role: Role | None = None) -> list[Institution]:
        query = select(institutions).order_by(institutions.c.id)
        if role is not None:
            query = query.where(institutions.c.role == Role(role).value)
        with self._engine.connect() as conn:
            return [_to_institution(row) for row in conn.execute(query)]

    def suspend(self, ident: str) -> Institution:
        """Refuse every request of this institution (its keys stay on record) until reinstated."""
        return self._set_status(ident, InstitutionStatus.SUSPENDED)

    def reinstate(self, ident: str) -> Institution:
        return self._set_status(ident, InstitutionStatus.ACTIVE)

    def set_limits(self, ident: str, limits: InstitutionLimits) -> Institution:
        with self._engine.begin() as conn:
            done = conn.execute(
                update(institutions).where(institutions.c.id == ident).values(
                    rate_per_s=limits.rate_per_s, burst=limits.burst, daily_quota=limits.daily_quota
                )
            )
        self.forget_authentications()
        if done.rowcount != 1:
            raise UnknownInstitution(ident)
        return self.get(ident)

    def rotate_key(self, ident: str, *, now: datetime) -> IssuedKey:
        """Issue a new key and revoke every earlier one of the institution at `now`."""
        key = self._hasher.issue()
        with self._engine.begin() as conn:
            if conn.execute(select(institutions.c.id).where(institutions.c.id == ident)).first() is None:
                raise UnknownInstitution(ident)
            conn.execute(
                update(api_keys)
                .where(and_(api_keys.c.institution_id == ident, api_keys.c.revoked_at.is_(None)))
                .values(revoked_at=to_epoch(now))
            )
            self._store_key(conn, ident, key, now)
        self.forget_authentications()
        return key

    def authenticate(self, token: str, *, now: datetime) -> Institution:
        """The institution owning `token`; raises `InvalidCredentials` or `InstitutionSuspended`."""
        cached = self.recently_authenticated(token, now=now)
        if cached is not None:
            return cached
        institution = self._authenticate(token, now=now)
        if self._ttl:
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[_token_digest(token)] = (now, institution)
        return institution

    def recently_authenticated(self, token: str, *, now: datetime) -> Institution | None:
        """The institution if `token` passed `authenticate` within the cache's time to live; no I/O, so an
        event loop may call it."""
        with self._lock:
            cached = self._cache.get(_token_digest(token))
        if cached is not None and cached[0] <= now < cached[0] + self._ttl:
            return cached[1]
        return None

    def forget_authentications(self) -> None:
        """Drop cached authentications (after any change to institutions or keys)."""
        with self._lock:
            self._cache.clear()

    def _authenticate(self, token: str, *, now: datetime) -> Institution:
        key_id, secret = parse_token(token)
        with self._engine.connect() as conn:
            row = conn.execute(
                select(api_keys.c.secret_hash, api_keys.c.revoked_at, institutions)
                .join(institutions, institutions.c.id == api_keys.c.institution_id)
                .where(api_keys.c.key_id == key_id)
            ).first()
        self._hasher.check(key_id, secret, None if row is None else bytes(row.secret_hash))
        if row.revoked_at is not None and row.revoked_at <= to_epoch(now):
            raise InvalidCredentials("revoked API key")
        institution = _to_institution(row)
        if not institution.active:
            raise InstitutionSuspended(institution.id)
        return institution

    def institution_of_key(self, key_id: str, *, now: datetime) -> Institution:
        """The institution of a key that is still in force (not revoked, institution active); raises
        `InvalidCredentials` or `InstitutionSuspended`. What a console session checks on every request: its
        secret was checked at log-in, and rotating the key or suspending the institution ends the session."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(api_keys.c.revoked_at, institutions)
                .join(institutions, institutions.c.id == api_keys.c.institution_id)
                .where(api_keys.c.key_id == key_id)
            ).first()
        if row is None or (row.revoked_at is not None and row.revoked_at <= to_epoch(now)):
            raise InvalidCredentials("unknown or revoked API key")
        institution = _to_institution(row)
        if not institution.active:
            raise InstitutionSuspended(institution.id)
        return institution

    def set_webhook(self, ident: str, url: str, *, policy: WebhookPolicy = PRODUCTION_POLICY,
                    resolver: Resolver = system_resolver) -> bytes:
        """Register the institution's webhook URL with a new signing secret (returned once); raises
        `WebhookTargetRefused` if the URL breaks a rule of `policy` (the dispatcher checks it again at
        each delivery)."""
        check_webhook_target(url, policy, resolver)
        secret = base64.urlsafe_b64encode(self._randbytes(32)).rstrip(b"=")
        with self._engine.begin() as conn:
            done = conn.execute(
                update(institutions).where(institutions.c.id == ident).values(
                    webhook_url=url, webhook_secret_sealed=self._box.seal(secret, ident)
                )
            )
        self.forget_authentications()
        if done.rowcount != 1:
            raise UnknownInstitution(ident)
        return secret

    def webhook_target(self, ident: str) -> WebhookTarget | None:
        """The URL and opened secret, or None if the institution registered no webhook."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(institutions.c.webhook_url, institutions.c.webhook_secret_sealed).where(
                    institutions.c.id == ident
                )
            ).first()
        if row is None:
            raise UnknownInstitution(ident)
        if row.webhook_url is None or row.webhook_secret_sealed is None:
            return None
        return WebhookTarget(row.webhook_url, self._box.open(bytes(row.webhook_secret_sealed), ident))

    def _set_status(self, ident: str, status: InstitutionStatus) -> Institution:
        with self._engine.begin() as conn:
            done = conn.execute(update(institutions).where(institutions.c.id == ident).values(status=status.value))
        self.forget_authentications()
        if done.rowcount != 1:
            raise UnknownInstitution(ident)
        return self.get(ident)

    def _store_key(self, conn, ident: str, key: IssuedKey, now: datetime) -> None:
        conn.execute(
            insert(api_keys).values(
                key_id=key.key_id, institution_id=ident, secret_hash=self._hasher.digest(key.key_id, key.secret),
                created_at=to_epoch(now), revoked_at=None,
            )
        )


def _to_institution(row) -> Institution:
    return Institution(
        id=row.id,
        kind=InstitutionKind(row.kind),
        name=row.name,
        role=Role(row.role),
        status=InstitutionStatus(row.status),
        created_at=from_epoch(row.created_at),
        limits=InstitutionLimits(row.rate_per_s, row.burst, row.daily_quota),
        webhook_url=row.webhook_url,
    )


def _token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest() if isinstance(token, str) else b""
