"""The platform's binding of enterprise Ed25519 keys to credit codes, with rotation and revocation dates.

A signature made at time t verifies only with a key that was valid at t: bound at or before t, not rotated
out before or at t, not revoked before or at t. Rotation closes the old key for new signatures but keeps it
for checking artefacts signed while it was current; revocation (compromise) can be back-dated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Engine, and_, insert, select, update
from sqlalchemy.exc import IntegrityError

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
    """SQL-backed key registry (the platform's). Bindings are not audit leaves yet: the log has no event
    kind for them (see docs/protocols/consent.md, open points)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create_schema(self) -> None:
        registry_metadata.create_all(self._engine, tables=[enterprise_keys])

    def bind(self, credit_code: str, key: Ed25519PublicKey, *, valid_from: datetime) -> str:
        """Bind `key` to `credit_code` from `valid_from` on (after the platform checked who holds it)."""
        validate_credit_code(credit_code)
        kid = key_id(key)
        row = {
            "credit_code": credit_code,
            "key_id": kid,
            "public_key": public_bytes(key),
            "valid_from": to_epoch(valid_from),
            "valid_until": None,
            "revoked_at": None,
        }
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(enterprise_keys).values(**row))
        except IntegrityError as exc:
            raise KeyBindingError(f"key {kid} is already bound to {credit_code}") from exc
        return kid

    def rotate(self, credit_code: str, new_key: Ed25519PublicKey, *, at: datetime) -> str:
        """Close every open key of `credit_code` at `at` and bind `new_key` from `at`."""
        validate_credit_code(credit_code)
        kid = key_id(new_key)
        epoch = to_epoch(at)
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    update(enterprise_keys)
                    .where(and_(enterprise_keys.c.credit_code == credit_code, enterprise_keys.c.valid_until.is_(None)))
                    .values(valid_until=epoch)
                )
                conn.execute(
                    insert(enterprise_keys).values(
                        credit_code=credit_code,
                        key_id=kid,
                        public_key=public_bytes(new_key),
                        valid_from=epoch,
                        valid_until=None,
                        revoked_at=None,
                    )
                )
        except IntegrityError as exc:
            raise KeyBindingError(f"key {kid} is already bound to {credit_code}") from exc
        return kid

    def revoke(self, credit_code: str, kid: str, *, at: datetime) -> None:
        """Revoke a key from `at` (which may be in the past: the moment it is believed compromised)."""
        with self._engine.begin() as conn:
            current = conn.execute(
                select(enterprise_keys.c.revoked_at).where(
                    and_(enterprise_keys.c.credit_code == credit_code, enterprise_keys.c.key_id == kid)
                )
            ).first()
            if current is None:
                raise UnknownEnterpriseKey(credit_code, kid)
            epoch = to_epoch(at)
            if current.revoked_at is not None and current.revoked_at <= epoch:
                return
            conn.execute(
                update(enterprise_keys)
                .where(and_(enterprise_keys.c.credit_code == credit_code, enterprise_keys.c.key_id == kid))
                .values(revoked_at=epoch)
            )

    def keys(self, credit_code: str) -> list[EnterpriseKey]:
        """Every key ever bound to `credit_code`, oldest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(enterprise_keys)
                .where(enterprise_keys.c.credit_code == credit_code)
                .order_by(enterprise_keys.c.valid_from, enterprise_keys.c.key_id)
            ).all()
        return [_to_key(row) for row in rows]

    def key_for(self, credit_code: str, key_id: str, *, at: datetime) -> Ed25519PublicKey:
        """The key `key_id` of `credit_code` if it was valid at `at`; raises `UnknownEnterpriseKey` or
        `EnterpriseKeyNotValid`."""
        with self._engine.connect() as conn:
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


def _to_key(row) -> EnterpriseKey:
    return EnterpriseKey(
        credit_code=row.credit_code,
        key_id=row.key_id,
        public_key=Ed25519PublicKey.from_public_bytes(row.public_key),
        valid_from=from_epoch(row.valid_from),
        valid_until=None if row.valid_until is None else from_epoch(row.valid_until),
        revoked_at=None if row.revoked_at is None else from_epoch(row.revoked_at),
    )

