"""Enterprise console sessions: a log-in signed in the browser with the enterprise's key becomes a session.

An enterprise has no API key: the API authenticates each of its requests by a signature of its bound Ed25519
key. The console does the same once, at log-in (`routers/enterprise.py`: the browser signs the log-in request
with the key it holds, exactly as the API's request signature, over a one-time challenge), and then keeps a
server-side session like an institution's: only a SHA-256 of the random session id is stored, with the credit
code, the key that signed the log-in, a CSRF token and the expiry. Every request re-checks that the key is
still bound and valid and that the account is active, so rotating or revoking the key, or suspending the
account, ends the session at once. The private key never reaches the server: every later change is signed
in the browser again and the platform verifies it as the API does.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, delete, insert, select

from consent.authorisation.errors import EnterpriseKeyNotValid, UnknownEnterpriseKey
from consent.authorisation.schema import from_epoch, to_epoch
from platform_node.enterprises import EnterpriseAccount
from platform_node.enterprises.accounts import ACTIVE, EnterpriseAccounts
from platform_node.enterprises.errors import UnknownEnterpriseAccount
from platform_node.institutions.model import InstitutionLimits

enterprise_session_metadata = MetaData()

enterprise_console_sessions = Table(
    "platform_console_enterprise_sessions",
    enterprise_session_metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("credit_code", String(18), nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", Integer, nullable=False),
    Column("expires_at", Integer, nullable=False, index=True),
)


class EnterpriseRole(StrEnum):
    """The console role of an enterprise (institutions' roles are `institutions.model.Role`)."""

    ENTERPRISE = "enterprise"


@dataclass(frozen=True)
class EnterpriseIdentity:
    """What the console's common parts read of whoever is logged in (name, role, rate-limit bucket)."""

    id: str  # the API's rate-limit bucket for this enterprise
    name: str
    role: EnterpriseRole
    limits: InstitutionLimits


@dataclass(frozen=True)
class EnterpriseConsoleSession:
    """A live enterprise session: the account, the key it logged in with, the form token and the expiry."""

    account: EnterpriseAccount
    key_id: str
    csrf: str
    expires_at: datetime
    limits: InstitutionLimits

    @property
    def institution(self) -> EnterpriseIdentity:
        return EnterpriseIdentity(f"enterprise:{self.account.credit_code}", self.account.name,
                                  EnterpriseRole.ENTERPRISE, self.limits)


def _random_token(randbytes: Callable[[int], bytes]) -> str:
    return base64.urlsafe_b64encode(randbytes(32)).rstrip(b"=").decode("ascii")


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "replace")).hexdigest()


class EnterpriseSessions:
    """Creates, resolves and ends enterprise console sessions over the platform's database."""

    def __init__(self, engine: Engine, enterprises: EnterpriseAccounts, *, ttl: timedelta, limits: InstitutionLimits,
                 randbytes: Callable[[int], bytes] = os.urandom) -> None:
        self._engine, self._enterprises, self._ttl, self._limits = engine, enterprises, ttl, limits
        self._randbytes = randbytes

    @property
    def ttl(self) -> timedelta:
        return self._ttl

    def create_schema(self) -> None:
        enterprise_session_metadata.create_all(self._engine)

    def open(self, account: EnterpriseAccount, key_id: str, *, now: datetime) -> tuple[str, EnterpriseConsoleSession]:
        """A new session for an enterprise whose key `key_id` just signed a log-in: (session id, session)."""
        session_id, csrf = _random_token(self._randbytes), _random_token(self._randbytes)
        expires = now + self._ttl
        table = enterprise_console_sessions
        with self._engine.begin() as conn:
            conn.execute(delete(table).where(table.c.expires_at <= to_epoch(now)))
            conn.execute(insert(table).values(id_hash=_digest(session_id), credit_code=account.credit_code,
                                              key_id=key_id, csrf=csrf, created_at=to_epoch(now),
                                              expires_at=to_epoch(expires)))
        return session_id, EnterpriseConsoleSession(account, key_id, csrf, from_epoch(to_epoch(expires)), self._limits)

    def resolve(self, session_id: str | None, *, now: datetime) -> EnterpriseConsoleSession | None:
        """The live session of this id, or None (unknown, expired, key no longer valid, account suspended)."""
        if not session_id or len(session_id) > 128:
            return None
        table = enterprise_console_sessions
        with self._engine.connect() as conn:
            row = conn.execute(select(table).where(table.c.id_hash == _digest(session_id))).first()
        if row is None or row.expires_at <= to_epoch(now):
            return None
        try:
            self._enterprises.keys.key_for(row.credit_code, row.key_id, at=now)
            account = self._enterprises.get(row.credit_code)
        except (UnknownEnterpriseKey, EnterpriseKeyNotValid, UnknownEnterpriseAccount):
            return None
        if account.status != ACTIVE:
            return None
        return EnterpriseConsoleSession(account, row.key_id, row.csrf, from_epoch(row.expires_at), self._limits)

    def end(self, session_id: str | None) -> None:
        if session_id:
            table = enterprise_console_sessions
            with self._engine.begin() as conn:
                conn.execute(delete(table).where(table.c.id_hash == _digest(session_id)))
