"""Console sessions: a log-in with an API key becomes a random session id in an HttpOnly cookie.

The database keeps only a SHA-256 of the session id (a copy of the table opens no session), the institution,
the key it logged in with, a per-session CSRF token and the expiry. Every request re-checks the key and the
institution (`InstitutionRegistry.institution_of_key`), so rotating the key or suspending the institution ends
its sessions at once. Time is passed in (`now=`), so expiry is tested without waiting.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, delete, insert, select

from consent.authorisation.schema import from_epoch, to_epoch
from platform_node.institutions.errors import InstitutionSuspended, InvalidCredentials
from platform_node.institutions.model import Institution
from platform_node.institutions.registry import InstitutionRegistry
from webconsole.tokens import digest as _digest
from webconsole.tokens import random_token

console_metadata = MetaData()

console_sessions = Table(
    "platform_console_sessions",
    console_metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("institution_id", String(128), nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", Integer, nullable=False),
    Column("expires_at", Integer, nullable=False, index=True),
)

DEFAULT_SESSION_TTL = timedelta(hours=8)


@dataclass(frozen=True)
class ConsoleSession:
    """A live session: who is logged in, the token every form carries, and when the session ends."""

    institution: Institution
    csrf: str
    expires_at: datetime


class ConsoleSessions:
    """Creates, resolves and ends console sessions over the API's database."""

    def __init__(self, engine: Engine, institutions: InstitutionRegistry, *, ttl: timedelta = DEFAULT_SESSION_TTL,
                 randbytes: Callable[[int], bytes] = os.urandom) -> None:
        self._engine, self._institutions, self._ttl, self._randbytes = engine, institutions, ttl, randbytes

    @property
    def ttl(self) -> timedelta:
        return self._ttl

    def create_schema(self) -> None:
        console_metadata.create_all(self._engine)

    def open(self, institution: Institution, key_id: str, *, now: datetime) -> tuple[str, ConsoleSession]:
        """A new session for an institution that just authenticated with `key_id`: (session id, session)."""
        session_id, csrf = random_token(self._randbytes), random_token(self._randbytes)
        expires = now + self._ttl
        with self._engine.begin() as conn:
            conn.execute(delete(console_sessions).where(console_sessions.c.expires_at <= to_epoch(now)))
            conn.execute(insert(console_sessions).values(
                id_hash=_digest(session_id), institution_id=institution.id, key_id=key_id, csrf=csrf,
                created_at=to_epoch(now), expires_at=to_epoch(expires)))
        return session_id, ConsoleSession(institution, csrf, from_epoch(to_epoch(expires)))

    def resolve(self, session_id: str | None, *, now: datetime) -> ConsoleSession | None:
        """The live session of this id, or None (unknown, expired, key revoked, institution suspended)."""
        if not session_id or len(session_id) > 128:
            return None
        with self._engine.connect() as conn:
            row = conn.execute(select(console_sessions).where(
                console_sessions.c.id_hash == _digest(session_id))).first()
        if row is None or row.expires_at <= to_epoch(now):
            return None
        try:
            institution = self._institutions.institution_of_key(row.key_id, now=now)
        except (InvalidCredentials, InstitutionSuspended):
            return None
        if institution.id != row.institution_id:
            return None
        return ConsoleSession(institution, row.csrf, from_epoch(row.expires_at))

    def end(self, session_id: str | None) -> None:
        if session_id:
            with self._engine.begin() as conn:
                conn.execute(delete(console_sessions).where(console_sessions.c.id_hash == _digest(session_id)))
