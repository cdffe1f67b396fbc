"""The platform's binding of enterprise Ed25519 keys to credit codes, with rotation and revocation dates.

A signature made at time t verifies only with a key that was valid at t: bound at or before t, not rotated
out before or at t, not revoked before or at t. Rotation closes the old key for new signatures but keeps it
for checking artefacts signed while it was current; revocation (compromise) can be back-dated.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, Engine, and_, insert, select, update
from sqlalchemy.exc import IntegrityError

from consent.audit.storage import READ_ONLY
from consent.authorisation.codec import format_time
from consent.authorisation.errors import ConsentError, EnterpriseKeyNotValid, UnknownEnterpriseKey
from consent.authorisation.schema import enterprise_keys, from_epoch, registry_metadata, to_epoch
from consent.authorisation.signatures import key_id, public_bytes
from consent.credit_code import validate_credit_code


class KeyBindingError(ConsentError):
    """A key is already bound, or a rotation/revocation names no open key."""


@dataclass(frozen=True)
class EnterpriseKey:
    """One binding of a public key to a credit code with its validity dates."""

    credit_code: str
    key_id: str
    public_key: Ed25519PublicKey
    valid_from: datetime
    valid_until: datetime | None
    revoked_at: datetime | None

    def check_valid_at(self, at: datetime) -> None:
        """Raise `EnterpriseKeyNotValid` unless this key could sign at `at`."""
        when = format_time(at)
        if at < self.valid_from:
            raise EnterpriseKeyNotValid(self.key_id, when, "not yet bound")
        if self.valid_until is not None and at >= self.valid_until:
            raise EnterpriseKeyNotValid(self.key_id, when, "rotated out")
        if self.revoked_at is not None and at >= self.revoked_at:
            raise EnterpriseKeyNotValid(self.key_id, when, "revoked")


class EnterpriseKeyLookup(Protocol):
    """What the gate needs from the registry: the key an enterprise used, checked valid at signing time."""

    def key_for(self, credit_code: str, key_id: str, *, at: datetime) -> Ed25519PublicKey: ...


class EnterpriseKeyRegistry:
    """SQL-backed key registry (the platform's). Each write runs in the caller's transaction when `conn` is
    given (so the platform records the change as an audit leaf in the same commit), else in its own."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create_schema(self) -> None:
        registry_metadata.create_all(self._engine, tables=[enterprise_keys])

    @contextmanager
    def _writing(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is not None:
            yield conn
            return
        with self._engine.begin() as own:
            yield own

    def bind(self, credit_code: str, key: Ed25519PublicKey, *, valid_from: datetime,
             conn: Connection | None = None) -> str:
        """Bind `key` to `credit_code` from `valid_from` on (after the platform checked who holds it)."""
        validate_credit_code(credit_code)
        kid = key_id(key)
        try:
            with self._writing(conn) as c, c.begin_nested():
                c.execute(insert(enterprise_keys).values(**_row(credit_code, key, valid_from)))
        except IntegrityError as exc:
            raise KeyBindingError(f"key {kid} is already bound to {credit_code}") from exc
        return kid

    def rotate(self, credit_code: str, new_key: Ed25519PublicKey, *, at: datetime,
               conn: Connection | None = None) -> str:
        """Close every open key of `credit_code` at `at` and bind `new_key` from `at`. Artefacts the old key
        signed before `at` stay valid; nothing it signs from `at` on is accepted."""
        validate_credit_code(credit_code)
        kid = key_id(new_key)
        try:
            with self._writing(conn) as c, c.begin_nested():
                c.execute(
                    update(enterprise_keys)
                    .where(and_(enterprise_keys.c.credit_code == credit_code, enterprise_keys.c.valid_until.is_(None)))
                    .values(valid_until=to_epoch(at))
                )
                c.execute(insert(enterprise_keys).values(**_row(credit_code, new_key, at)))
        except IntegrityError as exc:
            raise KeyBindingError(f"key {kid} is already bound to {credit_code}") from exc
        return kid

    def revoke(self, credit_code: str, kid: str, *, at: datetime, conn: Connection | None = None) -> None:
        """Revoke a key from `at` (which may be in the past: the moment it is believed compromised)."""
        with self._writing(conn) as c:
            current = c.execute(
                select(enterprise_keys.c.revoked_at).where(
                    and_(enterprise_keys.c.credit_code == credit_code, enterprise_keys.c.key_id == kid)
                )
            ).first()
            if current is None:
                raise UnknownEnterpriseKey(credit_code, kid)
            epoch = to_epoch(at)
            if current.revoked_at is not None and current.revoked_at <= epoch:
                return
            c.execute(
                update(enterprise_keys)
                .where(and_(enterprise_keys.c.credit_code == credit_code, enterprise_keys.c.key_id == kid))
                .values(revoked_at=epoch)
            )

    def recover(self, credit_code: str, new_key: Ed25519PublicKey, *, revoked_from: datetime, at: datetime,
                conn: Connection | None = None) -> tuple[str, list[str]]:
        """After a lost or stolen key: revoke every earlier key from `revoked_from` (<= `at`; back-dated to when
        the key may have been lost, so anything signed since stops verifying), close them at `at`, and bind
        `new_key` from `at`. Returns the new key id and the ids revoked."""
        if revoked_from > at:
            raise KeyBindingError("keys can be revoked from a past or present instant only")
        with self._writing(conn) as c:
            earlier = [k.key_id for k in self.keys(credit_code, conn=c)]
            for kid in earlier:
                self.revoke(credit_code, kid, at=revoked_from, conn=c)
            return self.rotate(credit_code, new_key, at=at, conn=c), earlier

    def keys(self, credit_code: str, *, conn: Connection | None = None) -> list[EnterpriseKey]:
        """Every key ever bound to `credit_code`, oldest first."""
        with self._reading(conn) as c:
            rows = c.execute(
                select(enterprise_keys)
                .where(enterprise_keys.c.credit_code == credit_code)
                .order_by(enterprise_keys.c.valid_from, enterprise_keys.c.key_id)
            ).all()
        return [_to_key(row) for row in rows]

    def current(self, credit_code: str, *, at: datetime, conn: Connection | None = None) -> EnterpriseKey | None:
        """The key that may sign for `credit_code` at `at` (open and not revoked), if any."""
        for key in reversed(self.keys(credit_code, conn=conn)):
            try:
                key.check_valid_at(at)
            except EnterpriseKeyNotValid:
                continue
            return key
        return None

    @contextmanager
    def _reading(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is not None:
            yield conn
            return
        with self._engine.connect().execution_options(**READ_ONLY) as own:
            yield own

    def key_for(self, credit_code: str, key_id: str, *, at: datetime) -> Ed25519PublicKey:
        """The key `key_id` of `credit_code` if it was valid at `at`; raises `UnknownEnterpriseKey` or
        `EnterpriseKeyNotValid`."""
        with self._engine.connect().execution_options(**READ_ONLY) as conn:
            row = conn.execute(
                select(enterprise_keys).where(
                    and_(enterprise_keys.c.credit_code == credit_code, enterprise_keys.c.key_id == key_id)
                )
            ).first()
        if row is None:
            raise UnknownEnterpriseKey(credit_code, key_id)
        key = _to_key(row)
        key.check_valid_at(at)
        return key.public_key


def _row(credit_code: str, key: Ed25519PublicKey, valid_from: datetime) -> dict[str, object]:
    return {"credit_code": credit_code, "key_id": key_id(key), "public_key": public_bytes(key),
            "valid_from": to_epoch(valid_from), "valid_until": None, "revoked_at": None}


def _to_key(row) -> EnterpriseKey:
    return EnterpriseKey(
        credit_code=row.credit_code,
        key_id=row.key_id,
        public_key=Ed25519PublicKey.from_public_bytes(row.public_key),
        valid_from=from_epoch(row.valid_from),
        valid_until=None if row.valid_until is None else from_epoch(row.valid_until),
        revoked_at=None if row.revoked_at is None else from_epoch(row.revoked_at),
    )

