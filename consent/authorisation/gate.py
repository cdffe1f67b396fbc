"""The AuthorisationGate: run at the source node for every verification or raw-detail request.

Checks, in order (each refusal names its `RefusalReason`; see docs/protocols/consent.md):
 1 payload canonical and well formed ........ MALFORMED_REQUEST
 2 addressed to this node .................... WRONG_PROVIDER
 3 timestamp within the window ............... STALE_TIMESTAMP / FUTURE_TIMESTAMP
 4 bank's signature (key from the PKI) ....... UNKNOWN_REQUESTER / BAD_REQUEST_SIGNATURE
 5 nonce unseen (nonce is burned here) ....... REPLAYED_NONCE
 6 artefact is the one named ................. UNKNOWN_AUTHORISATION
 7 enterprise signature, key valid then ...... UNKNOWN_ENTERPRISE_KEY / ENTERPRISE_KEY_NOT_VALID /
                                               BAD_ENTERPRISE_SIGNATURE
 8 signing bank is the grantee ............... WRONG_GRANTEE
 9 status ACTIVE (online or signed) .......... STATUS_UNAVAILABLE / BAD_STATUS_STATEMENT / NOT_ACTIVE /
                                               PAUSED / REVOKED / EXPIRED
10 inside the validity window ................ NOT_YET_VALID / EXPIRED
11 this node is a provider ................... NOT_A_PROVIDER
12 purpose and loan reference ................ WRONG_PURPOSE
13 mode admits the question kind ............. WRONG_MODE
14 field in an authorised category, a granted
   data item (if the terms list items), period  SCOPE_EXCEEDED / DATA_RANGE_EXCEEDED / MALFORMED_REQUEST
15 budgets, then the audit leaf, one txn ..... BUDGET_EXHAUSTED / FIELD_BUDGET_EXHAUSTED
A refusal spends no budget and writes no use leaf. Once the bank's signature has verified (step 4) the
nonce is burned, so a signed request is answered or refused once and cannot be held back and replayed after
a resume; a refusal from step 5 on is also logged as a `request_refused` leaf (if `log_refusals`), so
compliance sees probing such as a bank running into its per-field budget.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from sqlalchemy import Engine

from consent.audit.events import AuditEvent, EventKind
from consent.authorisation.audit_sink import AuditSink
from consent.authorisation.budgets import BudgetLedger
from consent.authorisation.catalogue import FieldCatalogue, FieldSpec
from consent.authorisation.codec import utc_seconds
from consent.authorisation.errors import (
    AuthorisationRefused,
    EnterpriseKeyNotValid,
    InvalidSignature,
    InvalidTerms,
    RefusalReason,
    StatusUnavailable,
    UnknownAuthorisation,
    UnknownEnterpriseKey,
    UnknownInstitutionKeys,
    WireFormatError,
)
from consent.authorisation.institutions import InstitutionDirectory
from consent.authorisation.key_registry import EnterpriseKeyLookup
from consent.authorisation.lifecycle import Status
from consent.authorisation.questions import Question, QuestionKind
from consent.authorisation.replay import ReplayCache
from consent.authorisation.request import SignedRequest, VerificationRequest
from consent.authorisation.schema import node_metadata
from consent.authorisation.signatures import Domain, verify
from consent.authorisation.status_source import StatusSource
from consent.authorisation.terms import Mode, Sensitivity, Terms, data_item

MODE_ALLOWS: dict[Mode, frozenset[QuestionKind]] = {
    Mode.QUERY: frozenset({QuestionKind.RAW, QuestionKind.PREDICATE, QuestionKind.MATCH}),
    Mode.VERIFY: frozenset({QuestionKind.PREDICATE, QuestionKind.MATCH}),
    Mode.MONITOR: frozenset({QuestionKind.PREDICATE}),
    Mode.JOINT_MODEL: frozenset(),
}

_STATUS_REFUSAL = {
    Status.PENDING: RefusalReason.NOT_ACTIVE,
    Status.REJECTED: RefusalReason.NOT_ACTIVE,
    Status.PAUSED: RefusalReason.PAUSED,
    Status.REVOKED: RefusalReason.REVOKED,
    Status.EXPIRED: RefusalReason.EXPIRED,
}


@dataclass(frozen=True)
class GatePolicy:
    """The node's own limits. `checks_per_field` = K bounds what predicate and match answers can reveal
    about one field under one artefact to K bits (see the consent protocol doc)."""

    timestamp_window: timedelta = timedelta(minutes=2)
    clock_skew: timedelta = timedelta(seconds=30)
    checks_per_field: int = 8
    max_status_ttl: timedelta = timedelta(minutes=5)
    log_refusals: bool = True

    def __post_init__(self) -> None:
        if self.timestamp_window <= timedelta(0) or self.clock_skew < timedelta(0):
            raise ValueError("timestamp window must be positive and clock skew non-negative")
        if self.checks_per_field < 1 or self.max_status_ttl <= timedelta(0):
            raise ValueError("checks_per_field must be >= 1 and max_status_ttl positive")


@dataclass(frozen=True)
class AuthorisedUse:
    """A request that passed every check and whose use is counted and logged; the node may now answer it."""

    request_id: str
    request: VerificationRequest
    terms: Terms
    field: FieldSpec
    use_number: int
    field_checks_spent: int | None
    sealing_key: X25519PublicKey
    at: datetime
    receipt: object

    @property
    def authorisation_id(self) -> str:
        return self.terms.id

    @property
    def credit_code(self) -> str:
        return self.terms.subject.credit_code

    @property
    def question(self) -> Question:
        return self.request.question


class AuthorisationGate:
    """Decides, at the source node, whether a relayed request may be answered; raises
    `AuthorisationRefused(reason)` or returns the counted, logged `AuthorisedUse`."""

    def __init__(
        self,
        *,
        node_id: str,
        engine: Engine,
        catalogue: FieldCatalogue,
        enterprise_keys: EnterpriseKeyLookup,
        institutions: InstitutionDirectory,
        status_source: StatusSource,
        registry_key: Ed25519PublicKey | None,
        audit: AuditSink,
        policy: GatePolicy | None = None,
    ) -> None:
        self.node_id = node_id
        self._engine = engine
        self._catalogue = catalogue
        self._enterprise_keys = enterprise_keys
        self._institutions = institutions
        self._status_source = status_source
        self._registry_key = registry_key
        self._audit = audit
        self.policy = policy or GatePolicy()
        self.ledger = BudgetLedger(engine)
        self.replay_cache = ReplayCache(engine, window=self.policy.timestamp_window)
        self._spend_lock = threading.Lock()

    def create_schema(self) -> None:
        node_metadata.create_all(self._engine)

    def check(self, signed: SignedRequest, *, now: datetime) -> AuthorisedUse:
        """Run every check in order; on success count the use and append its audit leaf in one transaction."""
        now = utc_seconds(now)
        request = self._parse(signed)
        if request.provider != self.node_id:
            raise AuthorisationRefused(RefusalReason.WRONG_PROVIDER, f"addressed to {request.provider}")
        self._check_timestamp(request, now)
        sealing_key = self._check_requester(signed, request)
        # From here on the request is the bank's own: refusals are logged and its nonce is spent.
        try:
            self.replay_cache.admit(
                requester=request.requester, nonce=request.nonce, timestamp=request.timestamp, now=now
            )
            terms = self._check_artefact(signed, request)
            if request.requester != terms.grantee:
                raise AuthorisationRefused(RefusalReason.WRONG_GRANTEE, f"{request.requester} is not {terms.grantee}")
            self._check_status(signed, terms, now)
            if now < terms.not_before:
                raise AuthorisationRefused(RefusalReason.NOT_YET_VALID)
            if now >= terms.not_after:
                raise AuthorisationRefused(RefusalReason.EXPIRED, "validity window ended")
            if self.node_id not in terms.providers:
                raise AuthorisationRefused(RefusalReason.NOT_A_PROVIDER)
            if request.purpose != terms.purpose or request.loan_application_ref != terms.loan_application_ref:
                raise AuthorisationRefused(RefusalReason.WRONG_PURPOSE, f"{request.purpose} vs {terms.purpose}")
            if request.question.kind not in MODE_ALLOWS[terms.mode]:
                raise AuthorisationRefused(RefusalReason.WRONG_MODE, f"{request.question.kind} under {terms.mode}")
            field = self._check_scope(request.question, terms)
            return self._spend(signed.request_id, request, terms, field, sealing_key, now)
        except AuthorisationRefused as refusal:
            self._log_refusal(signed.request_id, request, refusal.reason, now)
            raise

    def _parse(self, signed: SignedRequest) -> VerificationRequest:
        try:
            return signed.parse()
        except WireFormatError as exc:
            raise AuthorisationRefused(RefusalReason.MALFORMED_REQUEST, str(exc)) from exc

    def _check_timestamp(self, request: VerificationRequest, now: datetime) -> None:
        if request.timestamp < now - self.policy.timestamp_window:
            raise AuthorisationRefused(RefusalReason.STALE_TIMESTAMP)
        if request.timestamp > now + self.policy.clock_skew:
            raise AuthorisationRefused(RefusalReason.FUTURE_TIMESTAMP)

    def _check_requester(self, signed: SignedRequest, request: VerificationRequest) -> X25519PublicKey:
        try:
            keys = self._institutions.keys_of(request.requester)
        except UnknownInstitutionKeys as exc:
            raise AuthorisationRefused(RefusalReason.UNKNOWN_REQUESTER, request.requester) from exc
        if keys.sealing_key is None:
            raise AuthorisationRefused(RefusalReason.UNKNOWN_REQUESTER, f"{request.requester} has no sealing key")
        try:
            verify(keys.signing_key, Domain.REQUEST, signed.payload, signed.signature)
        except InvalidSignature as exc:
            raise AuthorisationRefused(RefusalReason.BAD_REQUEST_SIGNATURE) from exc
        return keys.sealing_key

    def _check_artefact(self, signed: SignedRequest, request: VerificationRequest) -> Terms:
        try:
            terms = signed.artefact.check_shape()
        except (InvalidTerms, WireFormatError) as exc:
            raise AuthorisationRefused(RefusalReason.UNKNOWN_AUTHORISATION, f"unreadable artefact: {exc}") from exc
        if terms.id != request.authorisation_id:
            raise AuthorisationRefused(RefusalReason.UNKNOWN_AUTHORISATION, "artefact is not the one requested")
        try:
            key = self._enterprise_keys.key_for(
                terms.subject.credit_code, signed.artefact.key_id, at=signed.artefact.signed_at
            )
        except UnknownEnterpriseKey as exc:
            raise AuthorisationRefused(RefusalReason.UNKNOWN_ENTERPRISE_KEY, str(exc)) from exc
        except EnterpriseKeyNotValid as exc:
            raise AuthorisationRefused(RefusalReason.ENTERPRISE_KEY_NOT_VALID, str(exc)) from exc
        try:
            signed.artefact.verify_with(key)
        except InvalidSignature as exc:
            raise AuthorisationRefused(RefusalReason.BAD_ENTERPRISE_SIGNATURE) from exc
        return terms

    def _check_status(self, signed: SignedRequest, terms: Terms, now: datetime) -> None:
        try:
            status = self._status_source.current_status(terms.id, now=now)
        except UnknownAuthorisation as exc:
            raise AuthorisationRefused(RefusalReason.UNKNOWN_AUTHORISATION, "registry does not know it") from exc
        except StatusUnavailable as exc:
            if signed.status is None or self._registry_key is None:
                raise AuthorisationRefused(RefusalReason.STATUS_UNAVAILABLE, str(exc)) from exc
            status = signed.status.verify(
                self._registry_key,
                authorisation_id=terms.id,
                now=now,
                max_ttl=self.policy.max_status_ttl,
                clock_skew=self.policy.clock_skew,
            ).status
        if status is not Status.ACTIVE:
            raise AuthorisationRefused(_STATUS_REFUSAL[status], f"status {status.value}")

    def _check_scope(self, question: Question, terms: Terms) -> FieldSpec:
        field = self._catalogue.get(question.field)
        if field is None:
            raise AuthorisationRefused(RefusalReason.SCOPE_EXCEEDED, f"{question.field} is not served here")
        category = terms.category(field.category)
        if category is None:
            raise AuthorisationRefused(RefusalReason.SCOPE_EXCEEDED, f"category {field.category} not authorised")
        # A protected field counts as authorised only if the enterprise signed its category at that very
        # sensitivity: consent given for "PUBLIC" data must not reach a trade secret filed under the same name.
        if field.sensitivity is not Sensitivity.PUBLIC and field.sensitivity is not category.sensitivity:
            raise AuthorisationRefused(RefusalReason.SCOPE_EXCEEDED, f"{field.name} is {field.sensitivity}")
        if not terms.grants(data_item(self.node_id, field.name)):
            raise AuthorisationRefused(RefusalReason.SCOPE_EXCEEDED, f"data item {field.name} not granted")
        if field.period is not None and field.period not in terms.data_range:
            raise AuthorisationRefused(RefusalReason.DATA_RANGE_EXCEEDED, f"period {field.period}")
        if question.value_type is not None and question.value_type is not field.value_type:
            raise AuthorisationRefused(RefusalReason.MALFORMED_REQUEST, f"{field.name} holds {field.value_type}")
        return field

    def _spend(
        self,
        request_id: str,
        request: VerificationRequest,
        terms: Terms,
        field: FieldSpec,
        sealing_key: X25519PublicKey,
        now: datetime,
    ) -> AuthorisedUse:
        checks_field = request.question.kind is not QuestionKind.RAW
        event = AuditEvent(
            kind=EventKind.VERIFICATION_ANSWERED if checks_field else EventKind.RAW_DETAIL_SERVED,
            occurred_at=now,
            authorisation_id=terms.id,
            use_id=request_id,
            institution=request.requester,
            source_unit=self.node_id,
            purpose=terms.purpose.value,
            mode=terms.mode.value,
        )
        with self._spend_lock, self._engine.begin() as conn:
            use_number = self.ledger.spend_use(conn, authorisation_id=terms.id, max_uses=terms.max_uses)
            spent = None
            if checks_field:
                spent = self.ledger.spend_field(
                    conn, authorisation_id=terms.id, field=field.name, limit=self.policy.checks_per_field
                )
            receipt = self._audit.append(conn, event)
        return AuthorisedUse(request_id, request, terms, field, use_number, spent, sealing_key, now, receipt)

    def _log_refusal(self, request_id: str, request: VerificationRequest, reason: RefusalReason, now: datetime) -> None:
        if not self.policy.log_refusals:
            return
        event = AuditEvent(
            kind=EventKind.REQUEST_REFUSED,
            occurred_at=now,
            authorisation_id=request.authorisation_id,
            use_id=request_id,
            institution=request.requester,
            source_unit=self.node_id,
            reason_code=reason.value,
            purpose=request.purpose.value,
        )
        with self._engine.begin() as conn:
            self._audit.append(conn, event)
