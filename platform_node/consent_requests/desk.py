"""The consent desk: banks ask, enterprises approve (by signing the terms), decline, pause, resume and revoke,
and the bank is told of every change through its webhook.

Every change is one transaction: the request row or the authorisation's status (the consent registry's
store), the enterprise's signed evidence (the artefact, or its signed instruction), the audit leaf, and the
bank's webhook delivery in the outbox. The store calls `_on_transition` inside the transaction of every
status change, whoever made it (the enterprise here, an operator over gRPC, the expiry sweep), so the bank
that asked hears of each one (artefacts an operator submitted over gRPC, which no bank asked for here, are
not pushed). What the platform checks before acting on an enterprise's signature is in
docs/protocols/consent.md, section 10.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, and_, insert, select, update
from sqlalchemy.exc import IntegrityError

from consent.audit import AuditEvent, AuditLog, EventKind, LeafReceipt, StoredLeaf
from consent.audit.storage import READ_ONLY
from consent.authorisation import (
    AuthorisationRecord,
    AuthorisationStore,
    DataCategory,
    EnterpriseKeyNotValid,
    EnterpriseKeyRegistry,
    InvalidSignature,
    InvalidTerms,
    Mode,
    Purpose,
    Sensitivity,
    SignedTerms,
    Status,
    Transition,
    TransitionReason,
    UnknownAuthorisation,
    UnknownEnterpriseKey,
    WireFormatError,
)
from consent.authorisation.audit_sink import leaf_actor, subject_ref
from consent.authorisation.codec import format_time, utc_seconds
from consent.authorisation.schema import from_epoch, to_epoch
from consent.authorisation.terms import Terms
from consent.enterprise.instructions import Action, Instruction, SignedInstruction
from platform_node.consent_registry.registry import CatalogueEntry
from platform_node.consent_requests.errors import (
    InvalidConsentRequest,
    NotTheSubject,
    RequestNotPending,
    SignatureRefused,
    TermsMismatch,
    UnknownConsentRequest,
)
from platform_node.consent_requests.model import ConsentRequest, RequestSpec, RequestStatus
from platform_node.consent_requests.schema import (
    consent_instructions,
    consent_request_metadata,
    consent_requests,
)
from platform_node.enterprises import EnterpriseAccount
from platform_node.monitoring.delivery import WebhookOutbox

log = logging.getLogger("xyd.platform.consent_requests")

CONSENT_EVENT = "consent.changed"
SWEEP_ACTOR = "platform/consent"
SIGNATURE_WINDOW = timedelta(minutes=5)
CLOCK_SKEW = timedelta(seconds=30)
USE_KINDS = (EventKind.VERIFICATION_ANSWERED, EventKind.RAW_DETAIL_SERVED, EventKind.REQUEST_REFUSED,
             EventKind.ALERT_PUSHED, EventKind.DECLARATION_READ)
_CHANGES = {
    Action.PAUSE: (Status.PAUSED, TransitionReason.ENTERPRISE_PAUSED),
    Action.RESUME: (Status.ACTIVE, TransitionReason.ENTERPRISE_RESUMED),
    Action.REVOKE: (Status.REVOKED, TransitionReason.ENTERPRISE_REVOKED),
}
_SENSITIVITY_RANK = {Sensitivity.PUBLIC: 0, Sensitivity.TRADE_SECRET: 1, Sensitivity.PERSONAL: 1}


class ConsentDesk:
    """Consent requests and the enterprise's side of their consents, over the platform's one engine."""

    def __init__(self, engine: Engine, *, store: AuthorisationStore, keys: EnterpriseKeyRegistry, audit: AuditLog,
                 outbox: WebhookOutbox, subject_ref_key: bytes, catalogue: Callable[[], Sequence[CatalogueEntry]],
                 respond_within: timedelta = timedelta(days=14), signature_window: timedelta = SIGNATURE_WINDOW,
                 randbytes: Callable[[int], bytes] = os.urandom) -> None:
        self._engine, self.store, self._keys, self._audit = engine, store, keys, audit
        self._outbox, self._ref_key, self._catalogue = outbox, subject_ref_key, catalogue
        self._respond_within, self._window, self._randbytes = respond_within, signature_window, randbytes
        store.add_listener(self._on_transition)

    def create_schema(self) -> None:
        consent_request_metadata.create_all(self._engine)

    # -- the bank's side ---------------------------------------------------------------------------------

    def catalogue(self) -> list[CatalogueEntry]:
        """The data items a request may name: what source nodes published, and the platform's own."""
        return list(self._catalogue())

    def ask(self, institution_id: str, *, credit_code: str, data_items: Sequence[str], purpose: Purpose,
            mode: Mode, loan_application_ref: str, valid_for: timedelta, max_uses: int,
            data_range: Sequence[str] | None, data_life_days: int, feedback_deadline_days: int,
            now: datetime) -> ConsentRequest:
        """Record a bank's consent request (PENDING) with a `consent_requested` leaf; raises
        `InvalidConsentRequest` for data items the source nodes do not publish or cannot go in one consent."""
        now = utc_seconds(now)
        spec = self._spec(credit_code, data_items, purpose, mode, loan_application_ref, now, now + valid_for,
                          max_uses, data_range, data_life_days, feedback_deadline_days)
        token = self._randbytes(8).hex()
        while token.isdigit():  # an all-digit segment reads as a bank card number, which no audit leaf may hold
            token = self._randbytes(8).hex()
        request_id = "creq-" + token
        respond_by = min(now + self._respond_within, spec.not_after)
        document = spec.to_bytes()
        with self._engine.begin() as conn:
            conn.execute(insert(consent_requests).values(
                id=request_id, institution_id=institution_id, credit_code=credit_code, spec=document.decode(),
                status=RequestStatus.PENDING.value, authorisation_id=None, created_at=to_epoch(now),
                respond_by=to_epoch(respond_by), updated_at=to_epoch(now)))
            self._audit.append(conn, AuditEvent(
                kind=EventKind.CONSENT_REQUESTED, occurred_at=now, request_id=request_id, institution=institution_id,
                purpose=purpose.value, mode=mode.value, subject_ref=subject_ref(self._ref_key, credit_code),
                digests={"request": hashlib.sha256(document).hexdigest()}))
        log.info("consent requested", extra={"institution": institution_id, "request_id": request_id})
        return self.get(request_id)

    def _spec(self, credit_code: str, data_items: Sequence[str], purpose: Purpose, mode: Mode, loan_ref: str,
              not_before: datetime, not_after: datetime, max_uses: int, data_range: Sequence[str] | None,
              data_life_days: int, feedback_deadline_days: int) -> RequestSpec:
        published = {entry.item: entry for entry in self._catalogue()}
        items = sorted(set(data_items))
        if not items or len(items) != len(data_items):
            raise InvalidConsentRequest("name at least one data item, each once")
        unknown = [item for item in items if item not in published]
        if unknown:
            raise InvalidConsentRequest(f"{len(unknown)} of the data items are not in the catalogue "
                                        f"(GET /v1/consent-catalogue lists what the source nodes publish)")
        categories: dict[str, Sensitivity] = {}
        for item in items:
            field = published[item].field
            known = categories.get(field.category)
            if known is not None and known is not field.sensitivity and Sensitivity.PUBLIC not in (known, field.sensitivity):
                raise InvalidConsentRequest(f"category {field.category} mixes trade secrets and personal data: "
                                            f"ask for them in two requests")
            if known is None or _SENSITIVITY_RANK[field.sensitivity] > _SENSITIVITY_RANK[known]:
                categories[field.category] = field.sensitivity
        periods = sorted({published[item].field.period for item in items if published[item].field.period})
        spec = RequestSpec(
            credit_code, tuple(items), tuple(sorted({published[i].provider for i in items})),
            tuple(DataCategory(name, sensitivity) for name, sensitivity in sorted(categories.items())), mode, purpose,
            loan_ref, not_before, not_after, max_uses, tuple(sorted(set(data_range or periods or ["current"]))),
            data_life_days, feedback_deadline_days)
        missing = [p for p in periods if p not in spec.data_range]
        if missing:
            raise InvalidConsentRequest(f"the data range leaves out {len(missing)} period(s) the data items cover")
        try:  # the terms the enterprise will sign must be valid whatever its name and signatory
            ConsentRequest("creq-probe", "bank/probe", spec, RequestStatus.PENDING, None, not_before, not_after,
                           not_before).terms_for(_PROBE_ACCOUNT)
        except InvalidTerms:
            raise InvalidConsentRequest("the request cannot be turned into consent terms") from None
        return spec

    def get(self, request_id: str, *, conn: Connection | None = None) -> ConsentRequest:
        query = select(consent_requests).where(consent_requests.c.id == request_id)
        if conn is not None:
            row = conn.execute(query).first()
        else:
            with self._engine.connect().execution_options(**READ_ONLY) as own:
                row = own.execute(query).first()
        if row is None:
            raise UnknownConsentRequest(request_id)
        return _to_request(row)

    def of_bank(self, institution_id: str, request_id: str) -> ConsentRequest:
        """The bank's own request; another bank's is not found, exactly like a missing one."""
        request = self.get(request_id)
        if request.institution_id != institution_id:
            raise UnknownConsentRequest(request_id)
        return request

    def list(self, *, institution_id: str | None = None, credit_code: str | None = None,
             status: RequestStatus | None = None, limit: int = 100) -> list[ConsentRequest]:
        query = select(consent_requests).order_by(consent_requests.c.created_at, consent_requests.c.id).limit(limit)
        if institution_id is not None:
            query = query.where(consent_requests.c.institution_id == institution_id)
        if credit_code is not None:
            query = query.where(consent_requests.c.credit_code == credit_code)
        if status is not None:
            query = query.where(consent_requests.c.status == RequestStatus(status).value)
        with self._engine.connect().execution_options(**READ_ONLY) as conn:
            return [_to_request(row) for row in conn.execute(query)]

    def consent_of(self, request: ConsentRequest) -> AuthorisationRecord | None:
        return None if request.authorisation_id is None else self.store.get(request.authorisation_id)

    # -- the enterprise's side ---------------------------------------------------------------------------

    def of_enterprise(self, enterprise: EnterpriseAccount, request_id: str) -> ConsentRequest:
        request = self.get(request_id)
        if request.credit_code != enterprise.credit_code:
            raise NotTheSubject(f"request {request_id} is about another enterprise")
        return request

    def approve(self, enterprise: EnterpriseAccount, request_id: str, artefact: SignedTerms, *,
                now: datetime) -> ConsentRequest:
        """The enterprise signed the request's terms: check the signature counts, register the artefact, make
        it ACTIVE and mark the request APPROVED, in one transaction (the bank's webhook with it)."""
        now = utc_seconds(now)
        with self._engine.begin() as conn:
            request = self._pending(conn, enterprise, request_id, now)
            try:
                terms = artefact.check_shape()
            except (InvalidTerms, WireFormatError):
                raise TermsMismatch("unreadable artefact") from None
            if terms.subject.credit_code != enterprise.credit_code:
                raise NotTheSubject("the signed terms name another enterprise")
            if terms.id != request.terms_for(enterprise).id:
                raise TermsMismatch(f"signed {terms.id}, the request's terms are another artefact")
            self._check_signer(enterprise.credit_code, artefact.key_id, artefact.signed_at, now,
                               lambda key: artefact.verify_with(key))
            self.store.register(artefact, actor=enterprise.actor, now=now, conn=conn, clock_skew=CLOCK_SKEW,
                                digests={"artefact": hashlib.sha256(artefact.payload).hexdigest()})
            self._set_status(conn, request, RequestStatus.APPROVED, now, authorisation_id=terms.id)
            self._request_leaf(conn, request, RequestStatus.APPROVED, "ENTERPRISE_APPROVED", enterprise.actor, now,
                               authorisation_id=terms.id)
            # The listener tells the bank (with the request's id) inside this transaction.
            self.store.transition(terms.id, Status.ACTIVE, actor=enterprise.actor,
                                  reason=TransitionReason.ENTERPRISE_APPROVED, now=now, conn=conn)
        log.info("consent approved", extra={"request_id": request_id, "authorisation_id": terms.id})
        return self.get(request_id)

    def decline(self, enterprise: EnterpriseAccount, request_id: str, signed: SignedInstruction, *,
                now: datetime) -> ConsentRequest:
        now = utc_seconds(now)
        with self._engine.begin() as conn:
            request = self._pending(conn, enterprise, request_id, now)
            instruction = self._accept(conn, enterprise, signed, Action.DECLINE, request_id, now)
            self._set_status(conn, request, RequestStatus.DECLINED, now)
            receipt = self._request_leaf(conn, request, RequestStatus.DECLINED, "ENTERPRISE_DECLINED",
                                         enterprise.actor, now, digests={"instruction": signed.digest})
            self._notify(conn, request, RequestStatus.DECLINED, None, "ENTERPRISE_DECLINED", receipt, now)
        log.info("consent declined", extra={"request_id": request_id, "nonce": instruction.nonce})
        return self.get(request_id)

    def change(self, enterprise: EnterpriseAccount, authorisation_id: str, action: Action,
               signed: SignedInstruction, *, now: datetime) -> Transition:
        """Pause, resume or revoke one of the enterprise's consents on its signed instruction."""
        if action not in _CHANGES:
            raise SignatureRefused(f"{action} is not a change of a consent", code="WRONG_INSTRUCTION")
        target, reason = _CHANGES[action]
        now = utc_seconds(now)
        with self._engine.begin() as conn:
            record = self._own_consent(enterprise, authorisation_id, conn=conn)
            self._accept(conn, enterprise, signed, action, authorisation_id, now)
            change = self.store.transition(record.terms.id, target, actor=enterprise.actor, reason=reason, now=now,
                                           conn=conn, digests={"instruction": signed.digest})
        log.info("consent changed", extra={"authorisation_id": authorisation_id, "status": target.value})
        return change

    def consents(self, enterprise: EnterpriseAccount) -> list[AuthorisationRecord]:
        return self.store.find(credit_code=enterprise.credit_code)

    def own_consent(self, enterprise: EnterpriseAccount, authorisation_id: str) -> AuthorisationRecord:
        return self._own_consent(enterprise, authorisation_id)

    def uses(self, enterprise: EnterpriseAccount, authorisation_id: str) -> list[StoredLeaf]:
        """Every use made under one of the enterprise's consents (answers, refusals, alerts, declaration reads),
        as the log's leaves."""
        self._own_consent(enterprise, authorisation_id)
        return self._audit.find(kinds=USE_KINDS, authorisation_id=authorisation_id)

    def request_of(self, authorisation_id: str, *, conn: Connection | None = None) -> ConsentRequest | None:
        query = select(consent_requests).where(consent_requests.c.authorisation_id == authorisation_id)
        if conn is not None:
            row = conn.execute(query).first()
        else:
            with self._engine.connect().execution_options(**READ_ONLY) as own:
                row = own.execute(query).first()
        return None if row is None else _to_request(row)

    # -- housekeeping ------------------------------------------------------------------------------------

    def expire_due(self, *, now: datetime) -> tuple[list[str], list[str]]:
        """Requests not answered by their deadline become EXPIRED; consents whose window ended become EXPIRED
        (the store's sweep; its listener tells the banks). Returns both lists of ids."""
        now = utc_seconds(now)
        with self._engine.connect().execution_options(**READ_ONLY) as conn:
            due = conn.execute(select(consent_requests.c.id).where(and_(
                consent_requests.c.status == RequestStatus.PENDING.value,
                consent_requests.c.respond_by <= to_epoch(now)))).scalars().all()
        expired = []
        for request_id in due:
            with self._engine.begin() as conn:
                request = self._locked(conn, request_id)
                if request.status is not RequestStatus.PENDING:
                    continue
                self._set_status(conn, request, RequestStatus.EXPIRED, now)
                receipt = self._request_leaf(conn, request, RequestStatus.EXPIRED, "NOT_ANSWERED_IN_TIME",
                                             SWEEP_ACTOR, now)
                self._notify(conn, request, RequestStatus.EXPIRED, None, "NOT_ANSWERED_IN_TIME", receipt, now)
            expired.append(request_id)
        return expired, self.store.expire_due(actor=SWEEP_ACTOR, now=now)

    # -- internals ---------------------------------------------------------------------------------------

    def _locked(self, conn: Connection, request_id: str) -> ConsentRequest:
        # Write first (as the store does): SQLite takes its write lock, PostgreSQL locks the row.
        touched = conn.execute(update(consent_requests).where(consent_requests.c.id == request_id)
                               .values(updated_at=consent_requests.c.updated_at))
        if touched.rowcount != 1:
            raise UnknownConsentRequest(request_id)
        return self.get(request_id, conn=conn)

    def _pending(self, conn: Connection, enterprise: EnterpriseAccount, request_id: str,
                 now: datetime) -> ConsentRequest:
        request = self._locked(conn, request_id)
        if request.credit_code != enterprise.credit_code:
            raise NotTheSubject(f"request {request_id} is about another enterprise")
        if request.status is not RequestStatus.PENDING or now >= request.respond_by:
            raise RequestNotPending(f"request {request_id} is {request.status.value}")
        return request

    def _own_consent(self, enterprise: EnterpriseAccount, authorisation_id: str, *,
                     conn: Connection | None = None) -> AuthorisationRecord:
        try:
            record = self.store.get(authorisation_id, conn=conn)
        except UnknownAuthorisation:
            raise UnknownConsentRequest(authorisation_id) from None
        if record.terms.subject.credit_code != enterprise.credit_code:
            raise NotTheSubject(f"consent {authorisation_id} is about another enterprise")
        return record

    def _check_signer(self, credit_code: str, kid: str, signed_at: datetime, now: datetime,
                      verify: Callable[[object], object]) -> None:
        # Fresh only: a thief of a key rotated out or revoked later cannot back-date a signature past this window.
        if signed_at > now + CLOCK_SKEW or signed_at < now - self._window:
            raise SignatureRefused(f"signed at {format_time(signed_at)}", code="STALE_SIGNATURE")
        try:
            key = self._keys.key_for(credit_code, kid, at=signed_at)
        except (UnknownEnterpriseKey, EnterpriseKeyNotValid) as exc:
            raise SignatureRefused(str(exc), code="KEY_NOT_VALID") from None
        try:
            verify(key)
        except InvalidSignature:
            raise SignatureRefused("signature does not verify", code="BAD_SIGNATURE") from None

    def _accept(self, conn: Connection, enterprise: EnterpriseAccount, signed: SignedInstruction, action: Action,
                target: str, now: datetime) -> Instruction:
        """Check and keep an instruction: the enterprise's, for this action and target, fresh, signed by a key
        valid when signed, and never seen before."""
        try:
            instruction = signed.instruction
        except WireFormatError:
            raise SignatureRefused("unreadable instruction", code="WRONG_INSTRUCTION") from None
        if instruction.credit_code != enterprise.credit_code:
            raise NotTheSubject("the instruction is signed for another enterprise")
        if instruction.action is not action or instruction.target != target:
            raise SignatureRefused(f"instruction says {instruction.action} {instruction.target}",
                                   code="WRONG_INSTRUCTION")
        self._check_signer(enterprise.credit_code, instruction.key_id, instruction.signed_at, now,
                           lambda key: signed.verify_with(key))
        try:
            with conn.begin_nested():
                conn.execute(insert(consent_instructions).values(
                    digest=signed.digest, credit_code=instruction.credit_code, nonce=instruction.nonce,
                    action=instruction.action.value, target=target, payload=signed.payload,
                    signature=signed.signature, recorded_at=to_epoch(now)))
        except IntegrityError:
            raise SignatureRefused("instruction seen before", code="REPLAYED_INSTRUCTION") from None
        return instruction

    @staticmethod
    def _set_status(conn: Connection, request: ConsentRequest, status: RequestStatus, now: datetime, *,
                    authorisation_id: str | None = None) -> None:
        values = {"status": status.value, "updated_at": to_epoch(now)}
        if authorisation_id is not None:
            values["authorisation_id"] = authorisation_id
        conn.execute(update(consent_requests).where(consent_requests.c.id == request.id).values(**values))

    def _request_leaf(self, conn: Connection, request: ConsentRequest, status: RequestStatus, reason: str,
                      actor: str, now: datetime, *, authorisation_id: str | None = None,
                      digests: dict[str, str] | None = None) -> LeafReceipt:
        return self._audit.append(conn, AuditEvent(
            kind=EventKind.CONSENT_REQUEST_CHANGED, occurred_at=now, request_id=request.id,
            authorisation_id=authorisation_id, institution=request.institution_id, actor=leaf_actor(actor),
            status_from=request.status.value, status_to=status.value, reason_code=reason,
            subject_ref=subject_ref(self._ref_key, request.credit_code), digests=digests or {}))

    def _on_transition(self, conn: Connection, change: Transition, terms: Terms, receipt: object) -> None:
        if change.source is None:  # the arrival (PENDING): the request's approval says what happened
            return
        request = self.request_of(change.authorisation_id, conn=conn)
        if request is None:
            return  # an artefact an operator submitted over gRPC: no bank asked for it here, none is told
        body = {
            "request_id": request.id, "authorisation_id": change.authorisation_id,
            "request_status": request.status.value,
            "consent_status": change.target.value, "reason": change.reason.value, "at": format_time(change.at),
            "audit_index": getattr(receipt, "index", None),
        }
        self._enqueue(conn, request.institution_id, request.id, body, change.at)

    def _notify(self, conn: Connection, request: ConsentRequest, status: RequestStatus, consent: Status | None,
                reason: str, receipt: LeafReceipt, now: datetime) -> None:
        body = {"request_id": request.id, "authorisation_id": request.authorisation_id,
                "request_status": status.value, "consent_status": None if consent is None else consent.value,
                "reason": reason, "at": format_time(now), "audit_index": receipt.index}
        self._enqueue(conn, request.institution_id, request.id, body, now)

    def _enqueue(self, conn: Connection, institution_id: str, event_id: str, body: dict, now: datetime) -> None:
        payload = json.dumps({"event": CONSENT_EVENT, **body}, separators=(",", ":"), sort_keys=True).encode()
        self._outbox.enqueue(conn, institution_id=institution_id, event_type=CONSENT_EVENT, event_id=event_id,
                             body=payload, now=now)


def _to_request(row) -> ConsentRequest:
    return ConsentRequest(row.id, row.institution_id, RequestSpec.from_json(json.loads(row.spec)),
                          RequestStatus(row.status), row.authorisation_id, from_epoch(row.created_at),
                          from_epoch(row.respond_by), from_epoch(row.updated_at))


def _probe_account() -> EnterpriseAccount:
    from consent.authorisation import IdentityCheck, SignatoryRole

    return EnterpriseAccount("", "probe", "probe", SignatoryRole.LEGAL_REPRESENTATIVE, IdentityCheck.CA_CERTIFICATE,
                             "probe", "ACTIVE", from_epoch(0))


_PROBE_ACCOUNT = _probe_account()
