"""Self-declared information on the platform: versions submitted, corrected and withdrawn by the enterprise's
signature, shown in public reports (when public) apart from authoritative data, and read by banks under consent.

Each version is one transaction with its `declaration_recorded` leaf (the digest of the signed bytes). A bank
reads a declaration that is not public only under an ACTIVE consent of its own naming the data item
`<platform>:self_declared`, for the consent's purpose, within its window and its number of uses; every read, or
refusal, is a leaf (`declaration_read`, `request_refused`) with the consent's id, so the enterprise sees it in
its consent's uses. The platform checks what a source node's gate checks (docs/protocols/consent.md, section 3);
the platform is the "provider" of this item.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Connection, Engine, and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from consent.audit import AuditEvent, AuditLog, EventKind
from consent.audit.storage import READ_ONLY
from consent.authorisation import (
    AuthorisationStore,
    EnterpriseKeyNotValid,
    EnterpriseKeyRegistry,
    InvalidSignature,
    Mode,
    Purpose,
    Status,
    UnknownAuthorisation,
    UnknownEnterpriseKey,
    WireFormatError,
)
from consent.authorisation.audit_sink import leaf_actor, subject_ref
from consent.authorisation.catalogue import FieldSpec, ValueType
from consent.authorisation.codec import format_time, utc_seconds
from consent.authorisation.schema import authorisations, from_epoch, to_epoch
from consent.authorisation.terms import Sensitivity, data_item
from consent.enterprise.declarations import (
    COMMITMENT_TEXT,
    COMMITMENT_VERSION,
    DeclarationStatement,
    SignedDeclaration,
    Visibility,
)
from consent.enterprise.instructions import Action, SignedInstruction
from errors import Conflict, InvalidInput, NotFound, Refused
from platform_node.consent_registry.registry import CatalogueEntry
from platform_node.declarations.schema import declaration_metadata, declarations
from platform_node.enterprises import EnterpriseAccount

SELF_DECLARED = "self_declared"
SIGNATURE_WINDOW = timedelta(minutes=5)
CLOCK_SKEW = timedelta(seconds=30)
_STATUS_REFUSAL = {Status.PENDING: "NOT_ACTIVE", Status.REJECTED: "NOT_ACTIVE", Status.PAUSED: "PAUSED",
                   Status.REVOKED: "REVOKED", Status.EXPIRED: "EXPIRED"}


class DeclarationStatus(StrEnum):
    CURRENT = "CURRENT"
    SUPERSEDED = "SUPERSEDED"
    WITHDRAWN = "WITHDRAWN"


class DeclarationRefused(InvalidInput):
    """A declaration the platform does not record. `code`: COMMITMENT_MISMATCH (not the platform's current
    commitment text), VERSION_CONFLICT (not the next version, or not superseding the current one),
    NOT_THE_SUBJECT (another enterprise's), KEY_NOT_VALID, STALE_SIGNATURE, BAD_SIGNATURE, MALFORMED."""

    default_public = "the declaration was not recorded"
    detail_is_public = False

    def __init__(self, detail: str, *, code: str) -> None:
        super().__init__(detail, code=code)


class UnknownDeclaration(NotFound):
    code = "NOT_FOUND"
    default_public = "no such declaration"
    detail_is_public = False


class DeclarationNotCurrent(Conflict):
    code = "DECLARATION_NOT_CURRENT"
    default_public = "only the current declaration can be withdrawn"
    detail_is_public = False


class ReadRefused(Refused):
    """A bank's read under consent that the consent does not allow; `code` is the public refusal code (the same
    vocabulary as a source node's: NOT_AUTHORISED, PAUSED, REVOKED, EXPIRED, NOT_YET_VALID, WRONG_PURPOSE,
    SCOPE_EXCEEDED, WRONG_MODE, BUDGET_EXHAUSTED)."""

    default_public = "the consent does not allow this read"
    detail_is_public = False

    def __init__(self, detail: str, *, code: str, leaf_index: int | None = None) -> None:
        super().__init__(detail, code=code)
        self.leaf_index = leaf_index


@dataclass(frozen=True)
class DeclarationRecord:
    id: str
    credit_code: str
    version: int
    status: DeclarationStatus
    visibility: Visibility | None
    statement: DeclarationStatement | None  # None for a withdrawal
    recorded_at: datetime
    digest: str


@dataclass(frozen=True)
class DeclarationRead:
    """What a bank read under consent: the current declaration (or none) and the read's leaf index."""

    use_id: str
    declaration: DeclarationRecord | None
    leaf_index: int


class DeclarationBook:
    """Declarations and their reads, over the platform's one engine and log."""

    def __init__(self, engine: Engine, *, keys: EnterpriseKeyRegistry, store: AuthorisationStore, audit: AuditLog,
                 subject_ref_key: bytes, provider: str, randbytes: Callable[[int], bytes] = os.urandom) -> None:
        """`provider` is the platform's identity: consents name the item `<provider>:self_declared`."""
        self._engine, self._keys, self._store, self._audit = engine, keys, store, audit
        self._ref_key, self.provider, self._randbytes = subject_ref_key, provider, randbytes

    def create_schema(self) -> None:
        declaration_metadata.create_all(self._engine)

    @property
    def item(self) -> str:
        return data_item(self.provider, SELF_DECLARED)

    def catalogue_entry(self) -> CatalogueEntry:
        """The data item consent requests name to let a bank read what is not public."""
        return CatalogueEntry(self.provider, FieldSpec(SELF_DECLARED, SELF_DECLARED, Sensitivity.TRADE_SECRET,
                                                       ValueType.STRING, None))

    # -- the enterprise's side ---------------------------------------------------------------------------

    def submit(self, enterprise: EnterpriseAccount, signed: SignedDeclaration, *, now: datetime) -> DeclarationRecord:
        """Record a new version (the first, or a correction of the current one)."""
        now = utc_seconds(now)
        try:
            statement = signed.statement
        except WireFormatError:
            raise DeclarationRefused("unreadable declaration", code="MALFORMED") from None
        if statement.credit_code != enterprise.credit_code:
            raise DeclarationRefused("declaration for another enterprise", code="NOT_THE_SUBJECT")
        if (statement.commitment_version, statement.commitment_text) != (COMMITMENT_VERSION, COMMITMENT_TEXT):
            raise DeclarationRefused("not the platform's commitment", code="COMMITMENT_MISMATCH")
        self._check_signer(enterprise.credit_code, statement.key_id, statement.signed_at, now,
                           lambda key: signed.verify_with(key))
        with self._engine.begin() as conn:
            current = self._latest(conn, enterprise.credit_code)
            expected = (1, None) if current is None else (current.version + 1,
                                                          current.id if current.status is DeclarationStatus.CURRENT
                                                          else None)
            if (statement.version, statement.supersedes) != expected:
                raise DeclarationRefused(f"expected version {expected[0]} superseding {expected[1]}",
                                         code="VERSION_CONFLICT")
            record = self._insert(conn, enterprise, statement.version, DeclarationStatus.CURRENT,
                                  statement.visibility, signed.payload, signed.signature, statement.key_id, now)
            if current is not None and current.status is DeclarationStatus.CURRENT:
                self._set_status(conn, current.id, DeclarationStatus.SUPERSEDED)
            what = "SUBMITTED" if current is None else "CORRECTED"
            self._leaf(conn, enterprise, what, signed.digest, now)
        return record

    def withdraw(self, enterprise: EnterpriseAccount, declaration_id: str, signed: SignedInstruction, *,
                 now: datetime) -> DeclarationRecord:
        """A withdrawal is a new, empty version carrying the signed instruction."""
        now = utc_seconds(now)
        try:
            instruction = signed.instruction
        except WireFormatError:
            raise DeclarationRefused("unreadable instruction", code="MALFORMED") from None
        if instruction.credit_code != enterprise.credit_code:
            raise DeclarationRefused("instruction for another enterprise", code="NOT_THE_SUBJECT")
        if instruction.action is not Action.WITHDRAW or instruction.target != declaration_id:
            raise DeclarationRefused("instruction is for another action or target", code="WRONG_INSTRUCTION")
        self._check_signer(enterprise.credit_code, instruction.key_id, instruction.signed_at, now,
                           lambda key: signed.verify_with(key))
        with self._engine.begin() as conn:
            current = self._latest(conn, enterprise.credit_code)
            if current is None or current.id != declaration_id:
                if self.get(declaration_id, conn=conn).credit_code != enterprise.credit_code:
                    raise UnknownDeclaration(declaration_id)
                raise DeclarationNotCurrent(declaration_id)
            if current.status is not DeclarationStatus.CURRENT:
                raise DeclarationNotCurrent(declaration_id)
            record = self._insert(conn, enterprise, current.version + 1, DeclarationStatus.WITHDRAWN, None,
                                  signed.payload, signed.signature, instruction.key_id, now)
            self._set_status(conn, current.id, DeclarationStatus.SUPERSEDED)
            self._leaf(conn, enterprise, "WITHDRAWN", signed.digest, now)
        return record

    def history(self, credit_code: str) -> list[DeclarationRecord]:
        with self._engine.connect().execution_options(**READ_ONLY) as conn:
            rows = conn.execute(select(declarations).where(declarations.c.credit_code == credit_code)
                                .order_by(declarations.c.version)).all()
        return [_to_record(row) for row in rows]

    def current(self, credit_code: str) -> DeclarationRecord | None:
        """The declaration in force (none after a withdrawal)."""
        with self._engine.connect().execution_options(**READ_ONLY) as conn:
            latest = self._latest(conn, credit_code)
        return latest if latest is not None and latest.status is DeclarationStatus.CURRENT else None

    def public(self, credit_code: str) -> DeclarationRecord | None:
        """What a public report shows: the current declaration if the enterprise made it public."""
        current = self.current(credit_code)
        return current if current is not None and current.visibility is Visibility.PUBLIC else None

    def get(self, declaration_id: str, *, conn: Connection | None = None) -> DeclarationRecord:
        query = select(declarations).where(declarations.c.id == declaration_id)
        if conn is not None:
            row = conn.execute(query).first()
        else:
            with self._engine.connect().execution_options(**READ_ONLY) as own:
                row = own.execute(query).first()
        if row is None:
            raise UnknownDeclaration(declaration_id)
        return _to_record(row)

    # -- a bank's read under consent ---------------------------------------------------------------------

    def read(self, institution_id: str, credit_code: str, *, consent_id: str, purpose: Purpose,
             now: datetime) -> DeclarationRead:
        """The current declaration (public or not) under the bank's consent; every read and refusal is a leaf."""
        now = utc_seconds(now)
        use_id = "dread-" + self._randbytes(8).hex()
        with self._engine.begin() as conn:
            # Write first: the consent's row lock (PostgreSQL) or the write lock (SQLite) serialises the use count.
            conn.execute(update(authorisations).where(authorisations.c.id == consent_id)
                         .values(updated_at=authorisations.c.updated_at))
            refusal = self._refusal(conn, institution_id, credit_code, consent_id, purpose, now)
            if refusal is not None:
                code, public = refusal
                receipt = self._audit.append(conn, AuditEvent(
                    kind=EventKind.REQUEST_REFUSED, occurred_at=now, institution=institution_id, use_id=use_id,
                    authorisation_id=consent_id, source_unit=self.provider, reason_code=code,
                    purpose=purpose.value, subject_ref=subject_ref(self._ref_key, credit_code)))
                refused = ReadRefused(code, code=public, leaf_index=receipt.index)
            else:
                refused = None
                latest = self._latest(conn, credit_code)
                current = latest if latest is not None and latest.status is DeclarationStatus.CURRENT else None
                receipt = self._audit.append(conn, AuditEvent(
                    kind=EventKind.DECLARATION_READ, occurred_at=now, use_id=use_id, institution=institution_id,
                    authorisation_id=consent_id, source_unit=self.provider, purpose=purpose.value,
                    subject_ref=subject_ref(self._ref_key, credit_code),
                    digests={} if current is None else {"declaration": current.digest}))
        if refused is not None:  # the refusal's leaf is committed; the bank gets the code
            raise refused
        return DeclarationRead(use_id, current, receipt.index)

    def _refusal(self, conn: Connection, institution_id: str, credit_code: str, consent_id: str,
                 purpose: Purpose, now: datetime) -> tuple[str, str] | None:
        """(precise code for the log, public code) of the first check that fails, or None."""
        try:
            record = self._store.get(consent_id, conn=conn)
        except UnknownAuthorisation:
            return "UNKNOWN_AUTHORISATION", "NOT_AUTHORISED"
        terms = record.terms
        if terms.grantee != institution_id:
            return "WRONG_GRANTEE", "NOT_AUTHORISED"
        if terms.subject.credit_code != credit_code:
            return "WRONG_SUBJECT", "NOT_AUTHORISED"
        if record.status is not Status.ACTIVE:
            code = _STATUS_REFUSAL[record.status]
            return code, code
        if now < terms.not_before:
            return "NOT_YET_VALID", "NOT_YET_VALID"
        if now >= terms.not_after:
            return "EXPIRED", "EXPIRED"
        if self.provider not in terms.providers or terms.category(SELF_DECLARED) is None or not terms.grants(self.item):
            return "SCOPE_EXCEEDED", "SCOPE_EXCEEDED"
        if purpose is not terms.purpose:
            return "WRONG_PURPOSE", "WRONG_PURPOSE"
        if terms.mode is Mode.JOINT_MODEL:
            return "WRONG_MODE", "WRONG_MODE"
        used = conn.execute(select(func.count()).select_from(self._audit.tables.leaf).where(and_(
            self._audit.tables.leaf.c.authorisation_id == consent_id,
            self._audit.tables.leaf.c.kind == EventKind.DECLARATION_READ.value))).scalar_one()
        if used >= terms.max_uses:
            return "BUDGET_EXHAUSTED", "BUDGET_EXHAUSTED"
        return None

    # -- internals ---------------------------------------------------------------------------------------

    def _check_signer(self, credit_code: str, kid: str, signed_at: datetime, now: datetime, verify) -> None:
        if signed_at > now + CLOCK_SKEW or signed_at < now - SIGNATURE_WINDOW:
            raise DeclarationRefused("signed too long ago or in the future", code="STALE_SIGNATURE")
        try:
            key = self._keys.key_for(credit_code, kid, at=signed_at)
        except (UnknownEnterpriseKey, EnterpriseKeyNotValid):
            raise DeclarationRefused("key not valid when it signed", code="KEY_NOT_VALID") from None
        try:
            verify(key)
        except InvalidSignature:
            raise DeclarationRefused("signature does not verify", code="BAD_SIGNATURE") from None

    @staticmethod
    def _latest(conn: Connection, credit_code: str) -> DeclarationRecord | None:
        row = conn.execute(select(declarations).where(declarations.c.credit_code == credit_code)
                           .order_by(declarations.c.version.desc()).limit(1)).first()
        return None if row is None else _to_record(row)

    def _insert(self, conn: Connection, enterprise: EnterpriseAccount, version: int, status: DeclarationStatus,
                visibility: Visibility | None, payload: bytes, signature: bytes, kid: str,
                now: datetime) -> DeclarationRecord:
        declaration_id = "decl-" + self._randbytes(8).hex()
        try:
            with conn.begin_nested():
                conn.execute(insert(declarations).values(
                    id=declaration_id, credit_code=enterprise.credit_code, version=version, status=status.value,
                    visibility=None if visibility is None else visibility.value, payload=payload, signature=signature,
                    key_id=kid, recorded_at=to_epoch(now)))
        except IntegrityError:
            raise DeclarationRefused(f"version {version} exists", code="VERSION_CONFLICT") from None
        return self.get(declaration_id, conn=conn)

    @staticmethod
    def _set_status(conn: Connection, declaration_id: str, status: DeclarationStatus) -> None:
        conn.execute(update(declarations).where(declarations.c.id == declaration_id).values(status=status.value))

    def _leaf(self, conn: Connection, enterprise: EnterpriseAccount, what: str, digest: str, now: datetime) -> None:
        self._audit.append(conn, AuditEvent(
            kind=EventKind.DECLARATION_RECORDED, occurred_at=now, actor=leaf_actor(enterprise.actor), status_to=what,
            subject_ref=subject_ref(self._ref_key, enterprise.credit_code), digests={"declaration": digest}))


def _to_record(row) -> DeclarationRecord:
    payload = bytes(row.payload)
    statement = None
    if row.status != DeclarationStatus.WITHDRAWN.value:
        statement = SignedDeclaration(payload, bytes(row.signature)).statement
    return DeclarationRecord(row.id, row.credit_code, row.version, DeclarationStatus(row.status),
                             None if row.visibility is None else Visibility(row.visibility), statement,
                             from_epoch(row.recorded_at), hashlib.sha256(payload).hexdigest())


def declaration_json(record: DeclarationRecord) -> dict:
    """The public form of a declaration: flagged self-declared, with its commitment, signer and time."""
    statement = record.statement
    assert statement is not None
    return {
        "self_declared": True, "declaration_id": record.id, "version": record.version,
        "visibility": statement.visibility.value, "declared": statement.declaration.to_json(),
        "commitment": {"text": statement.commitment_text, "version": statement.commitment_version,
                       "signatory": statement.signatory, "signatory_role": statement.signatory_role.value,
                       "signed_at": format_time(statement.signed_at), "key_id": statement.key_id},
        "recorded_at": format_time(record.recorded_at), "digest": record.digest,
    }
