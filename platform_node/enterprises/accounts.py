"""Enterprise accounts: sign-up and recovery through an identity provider, key rotation, and the
authentication of each signed request.

Every key change is one transaction: the account row, the accepted proof's digest (a proof is accepted once),
the key registry's binding and an `enterprise_key_changed` audit leaf per key touched. The platform stores
public keys and digests only; the enterprise's private key never reaches it (the CLI keeps it in a file on
the enterprise's side).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from consent.audit import AuditEvent, EventKind, LeafReceipt
from consent.audit.storage import READ_ONLY
from consent.authorisation import (
    EnterpriseKeyNotValid,
    EnterpriseKeyRegistry,
    InvalidSignature,
    UnknownEnterpriseKey,
)
from consent.authorisation.audit_sink import AuditSink, leaf_actor, subject_ref
from consent.authorisation.codec import utc_seconds
from consent.authorisation.key_registry import KeyBindingError
from consent.authorisation.schema import from_epoch, to_epoch
from consent.authorisation.signatures import public_bytes
from consent.authorisation.terms import IdentityCheck, SignatoryRole
from consent.enterprise import (
    IdentityNotProven,
    IdentityProof,
    IdentityProvider,
    KeyStatement,
    ProofPurpose,
    RequestCredentials,
    check_possession,
    check_proof,
    verify_request,
)
from consent.enterprise.identity import PROOF_WINDOW, check_fresh
from platform_node.enterprises.errors import (
    EnterpriseAlreadySignedUp,
    EnterpriseSuspended,
    EnterpriseUnauthenticated,
    KeyChangeRefused,
    UnknownEnterpriseAccount,
)
from platform_node.enterprises.schema import (
    enterprise_accounts,
    enterprise_metadata,
    enterprise_proofs,
    enterprise_request_nonces,
)

log = logging.getLogger("xyd.platform.enterprises")

ACTIVE, SUSPENDED = "ACTIVE", "SUSPENDED"
REQUEST_WINDOW = timedelta(seconds=60)
_PURGE_EVERY = 256


@dataclass(frozen=True)
class EnterpriseAccount:
    """An enterprise as the platform knows it (public facts only)."""

    credit_code: str
    name: str
    signatory: str
    signatory_role: SignatoryRole
    identity_check: IdentityCheck
    provider: str
    status: str
    created_at: datetime

    @property
    def actor(self) -> str:
        """How this enterprise appears as an actor in transitions (leaves show `enterprise/subject`)."""
        return f"enterprise/{self.credit_code}"


@dataclass(frozen=True)
class KeyChange:
    """The outcome of a sign-up, rotation or recovery: the account, the new key id and the leaves written."""

    account: EnterpriseAccount
    key_id: str
    revoked: tuple[str, ...]
    receipts: tuple[LeafReceipt, ...]


@dataclass(frozen=True)
class AuthenticatedEnterprise:
    """The enterprise a request was signed by, and with which key."""

    account: EnterpriseAccount
    key_id: str


class EnterpriseAccounts:
    """Accounts, key changes and request authentication, over the platform's one engine."""

    def __init__(self, engine: Engine, *, keys: EnterpriseKeyRegistry, audit: AuditSink, subject_ref_key: bytes,
                 provider: IdentityProvider | None, audience: str, proof_window: timedelta = PROOF_WINDOW,
                 request_window: timedelta = REQUEST_WINDOW) -> None:
        """`provider` None: sign-up and recovery are refused (no identity provider configured); rotation and
        signed requests still work for enterprises already bound. `audience` is this platform's identity, which
        proofs must name (a proof made for another city's platform is refused here)."""
        self._engine, self.keys, self._audit, self._ref_key = engine, keys, audit, subject_ref_key
        self.provider, self.audience = provider, audience
        self._proof_window, self.request_window = proof_window, request_window
        self._inserted = 0

    def create_schema(self) -> None:
        enterprise_metadata.create_all(self._engine)

    # -- accounts --------------------------------------------------------------------------------------

    def get(self, credit_code: str, *, conn: Connection | None = None) -> EnterpriseAccount:
        """The account; raises `UnknownEnterpriseAccount`."""
        query = select(enterprise_accounts).where(enterprise_accounts.c.credit_code == credit_code)
        if conn is not None:
            row = conn.execute(query).first()
        else:
            with self._engine.connect().execution_options(**READ_ONLY) as own:
                row = own.execute(query).first()
        if row is None:
            raise UnknownEnterpriseAccount(credit_code)
        return _to_account(row)

    def find(self, credit_code: str) -> EnterpriseAccount | None:
        try:
            return self.get(credit_code)
        except UnknownEnterpriseAccount:
            return None

    def sign_up(self, proof: IdentityProof, *, now: datetime) -> KeyChange:
        """Open an account and bind its first key, after the identity proof holds; raises `IdentityNotProven`
        or `EnterpriseAlreadySignedUp`."""
        now = utc_seconds(now)
        verified = self._check(proof, ProofPurpose.SIGN_UP, now)
        statement, assertion = verified.statement, verified.assertion
        with self._engine.begin() as conn:
            self._accept(conn, statement, now)
            try:
                with conn.begin_nested():
                    conn.execute(insert(enterprise_accounts).values(
                        credit_code=statement.credit_code, name=assertion.name, signatory=statement.signatory,
                        signatory_role=statement.signatory_role.value,
                        identity_check=assertion.identity_check.value, provider=proof.provider,
                        evidence_digest=assertion.evidence_digest, status=ACTIVE, created_at=to_epoch(now),
                        updated_at=to_epoch(now)))
            except IntegrityError:
                raise EnterpriseAlreadySignedUp(statement.credit_code) from None
            # rotate, not bind: a key an operator bound before the account existed closes now.
            kid = self._key_change(lambda: self.keys.rotate(statement.credit_code, statement.public_key, at=now,
                                                            conn=conn))
            receipts = [self._leaf(conn, statement.credit_code, "BOUND", "SIGN_UP", statement.enterprise_key,
                                   statement.digest, now)]
            account = self.get(statement.credit_code, conn=conn)
        log.info("enterprise signed up", extra={"key_id": kid, "provider": proof.provider})
        return KeyChange(account, kid, (), tuple(receipts))

    def recover(self, proof: IdentityProof, *, revoked_from: datetime, now: datetime) -> KeyChange:
        """Re-bind after a lost key: a fresh identity proof, every earlier key revoked from `revoked_from`
        (back-dated to when it may have been lost), the new key bound from now."""
        now = utc_seconds(now)
        revoked_from = utc_seconds(revoked_from)
        if revoked_from > now:
            raise KeyChangeRefused("keys cannot be revoked from a future instant")
        verified = self._check(proof, ProofPurpose.RECOVER, now)
        statement, assertion = verified.statement, verified.assertion
        with self._engine.begin() as conn:
            account = self.get(statement.credit_code, conn=conn)
            self._accept(conn, statement, now)
            conn.execute(update(enterprise_accounts).where(enterprise_accounts.c.credit_code == account.credit_code)
                         .values(signatory=statement.signatory, signatory_role=statement.signatory_role.value,
                                 identity_check=assertion.identity_check.value, provider=proof.provider,
                                 evidence_digest=assertion.evidence_digest, updated_at=to_epoch(now)))
            before = {k.key_id: k for k in self.keys.keys(account.credit_code, conn=conn)}
            kid, revoked = self._key_change(lambda: self.keys.recover(
                account.credit_code, statement.public_key, revoked_from=revoked_from, at=now, conn=conn))
            receipts = [self._leaf(conn, account.credit_code, "REVOKED", "RECOVERY", public_bytes(before[k].public_key),
                                   statement.digest, now) for k in revoked]
            receipts.append(self._leaf(conn, account.credit_code, "BOUND", "RECOVERY", statement.enterprise_key,
                                       statement.digest, now))
            account = self.get(account.credit_code, conn=conn)
        log.info("enterprise key recovered", extra={"key_id": kid, "revoked": len(revoked)})
        return KeyChange(account, kid, tuple(revoked), tuple(receipts))

    def rotate(self, enterprise: AuthenticatedEnterprise, statement_bytes: bytes, key_signature: bytes, *,
               now: datetime) -> KeyChange:
        """Rotate to a new key. The request was signed by the current key (`enterprise`); the new key proves
        possession by signing a ROTATE statement. Earlier keys close now; what they signed before stays valid."""
        now = utc_seconds(now)
        try:
            statement = KeyStatement.from_bytes(statement_bytes)
        except ValueError as exc:
            raise KeyChangeRefused(f"malformed rotation statement: {exc}") from None
        account = enterprise.account
        if (statement.purpose is not ProofPurpose.ROTATE or statement.audience != self.audience
                or statement.credit_code != account.credit_code):
            raise IdentityNotProven("the rotation statement is for another purpose, platform or enterprise")
        check_fresh(statement, now=now, window=self._proof_window)
        check_possession(statement, key_signature)
        with self._engine.begin() as conn:
            self._accept(conn, statement, now)
            before = [k for k in self.keys.keys(account.credit_code, conn=conn) if k.valid_until is None]
            kid = self._key_change(lambda: self.keys.rotate(account.credit_code, statement.public_key, at=now,
                                                            conn=conn))
            receipts = [self._leaf(conn, account.credit_code, "ROTATED_OUT", "ROTATION", public_bytes(k.public_key),
                                   statement.digest, now) for k in before]
            receipts.append(self._leaf(conn, account.credit_code, "BOUND", "ROTATION", statement.enterprise_key,
                                       statement.digest, now))
        log.info("enterprise key rotated", extra={"key_id": kid})
        return KeyChange(account, kid, (), tuple(receipts))

    # -- requests ----------------------------------------------------------------------------------------

    def authenticate(self, credentials: RequestCredentials, *, method: str, path: str, query: str,
                     content_sha256: str, now: datetime) -> AuthenticatedEnterprise:
        """Check a signed request: timestamp within the window, key bound and valid now, account active,
        signature, and a nonce not seen in the window (remembered here). Raises `EnterpriseUnauthenticated`
        (code UNAUTHENTICATED, STALE_REQUEST or REPLAYED_REQUEST) or `EnterpriseSuspended`."""
        moment = to_epoch(now)
        window = int(self.request_window.total_seconds())
        if abs(credentials.timestamp - moment) > window:
            raise EnterpriseUnauthenticated("request timestamp outside the window", code="STALE_REQUEST")
        try:
            key = self.keys.key_for(credentials.credit_code, credentials.key_id, at=now)
        except (UnknownEnterpriseKey, EnterpriseKeyNotValid) as exc:
            raise EnterpriseUnauthenticated(f"key not valid: {exc}") from None
        try:
            verify_request(credentials, key, method=method, path=path, query=query, content_sha256=content_sha256)
        except InvalidSignature:
            raise EnterpriseUnauthenticated("request signature does not verify") from None
        try:
            account = self.get(credentials.credit_code)
        except UnknownEnterpriseAccount:
            raise EnterpriseUnauthenticated("key bound without an account") from None
        if account.status != ACTIVE:
            raise EnterpriseSuspended(account.credit_code)
        self._remember_nonce(credentials, expires_at=credentials.timestamp + window, now=moment)
        return AuthenticatedEnterprise(account, credentials.key_id)

    def _remember_nonce(self, credentials: RequestCredentials, *, expires_at: int, now: int) -> None:
        table = enterprise_request_nonces
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(table).values(credit_code=credentials.credit_code, nonce=credentials.nonce,
                                                  expires_at=expires_at))
                self._inserted += 1
                if self._inserted % _PURGE_EVERY == 0:  # a nonce past its window is refused as stale anyway
                    conn.execute(delete(table).where(table.c.expires_at < now))
        except IntegrityError:
            raise EnterpriseUnauthenticated("nonce seen before", code="REPLAYED_REQUEST") from None

    # -- internals ---------------------------------------------------------------------------------------

    def _check(self, proof: IdentityProof, purpose: ProofPurpose, now: datetime):
        if self.provider is None:
            raise IdentityNotProven("no identity provider is configured")
        return check_proof(proof, self.provider, purpose=purpose, audience=self.audience, now=now,
                           window=self._proof_window)

    @staticmethod
    def _accept(conn: Connection, statement: KeyStatement, now: datetime) -> None:
        """Remember the proof so it can never be accepted again (replay)."""
        try:
            with conn.begin_nested():
                conn.execute(insert(enterprise_proofs).values(digest=statement.digest, credit_code=statement.credit_code,
                                                              purpose=statement.purpose.value, accepted_at=to_epoch(now)))
        except IntegrityError:
            raise IdentityNotProven("this proof was accepted before (replay)") from None

    @staticmethod
    def _key_change(change):
        try:
            return change()
        except KeyBindingError as exc:
            raise KeyChangeRefused(str(exc)) from None

    def _leaf(self, conn: Connection, credit_code: str, what: str, why: str, public_key: bytes, proof_digest: str,
              now: datetime) -> LeafReceipt:
        return self._audit.append(conn, AuditEvent(
            kind=EventKind.ENTERPRISE_KEY_CHANGED, occurred_at=now, actor=leaf_actor(f"enterprise/{credit_code}"),
            status_to=what, reason_code=why, subject_ref=subject_ref(self._ref_key, credit_code),
            digests={"key": hashlib.sha256(public_key).hexdigest(), "statement": proof_digest}))


def _to_account(row) -> EnterpriseAccount:
    return EnterpriseAccount(row.credit_code, row.name, row.signatory, SignatoryRole(row.signatory_role),
                             IdentityCheck(row.identity_check), row.provider, row.status, from_epoch(row.created_at))

