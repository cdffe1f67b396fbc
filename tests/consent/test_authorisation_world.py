"""A small consent world for the authorisation and gate tests: keys, a registry, one source node, one bank.

No tests here; other test modules build a `World` and drive it. Both the registry and the node write to a
real `consent.audit.log.AuditLog` in their own database, inside the caller's transaction.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import StaticPool

from consent.audit.events import EventKind
from consent.audit.log import AuditLog
from consent.authorisation import (
    AuthorisationGate,
    AuthorisationStore,
    AuthorisedBy,
    DataCategory,
    EnterpriseKeyRegistry,
    FieldCatalogue,
    FieldSpec,
    GatePolicy,
    IdentityCheck,
    InstitutionDirectory,
    InstitutionKeys,
    Mode,
    Purpose,
    Question,
    Sensitivity,
    SignatoryRole,
    SignedRequest,
    SignedStatus,
    SignedTerms,
    Status,
    StoreStatusSource,
    Subject,
    Terms,
    TransitionReason,
    ValueType,
    VerificationRequest,
    VerificationResponder,
    dict_lookup,
    sign_request,
    sign_terms,
)

T0 = datetime(2025, 3, 1, 8, 0, 0, tzinfo=UTC)
CREDIT_CODE = "91330105MARQ283F4K"
OTHER_CODE = "91330102MABT5PRM01"
BANK = "bank/icbc-sz"
OTHER_BANK = "bank/cmb-sz"
TAX = "source/tax"
SOCIAL = "source/social"
LOAN_REF = "LA-2025-0001"

TAX_CATALOGUE = FieldCatalogue(
    [
        FieldSpec("tax_paid_2025", "tax", Sensitivity.TRADE_SECRET, ValueType.NUMBER, "2025"),
        FieldSpec("tax_paid_2024", "tax", Sensitivity.TRADE_SECRET, ValueType.NUMBER, "2024"),
        FieldSpec("tax_paid_2021", "tax", Sensitivity.TRADE_SECRET, ValueType.NUMBER, "2021"),
        FieldSpec("tax_arrears", "tax", Sensitivity.TRADE_SECRET, ValueType.BOOL),
        FieldSpec("tax_grade", "tax", Sensitivity.TRADE_SECRET, ValueType.STRING),
        FieldSpec("insured_headcount", "social_insurance", Sensitivity.PERSONAL, ValueType.NUMBER, "2025"),
        FieldSpec("invoice_total_2025", "invoices", Sensitivity.TRADE_SECRET, ValueType.NUMBER, "2025"),
    ]
)

TABLE = {
    CREDIT_CODE: {
        "tax_paid_2025": 1_250_000,
        "tax_paid_2024": 980_000.5,
        "tax_paid_2021": 10,
        "tax_arrears": False,
        "tax_grade": "A",
        "insured_headcount": 37,
        "invoice_total_2025": None,
    }
}

USE_KINDS = (EventKind.VERIFICATION_ANSWERED, EventKind.RAW_DETAIL_SERVED)


def audit_log(engine: Engine) -> AuditLog:
    log = AuditLog(engine)
    log.create_schema()
    return log


def memory_engine() -> Engine:
    return create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})


def deterministic_rng(seed: int = 1):
    counter = itertools.count(seed * 1_000_003)

    def rng(n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += next(counter).to_bytes(8, "big") * 4
        return out[:n]

    return rng


@dataclass
class Party:
    identity: str
    signing: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    sealing: X25519PrivateKey = field(default_factory=X25519PrivateKey.generate)

    def directory_entry(self) -> InstitutionKeys:
        return InstitutionKeys(self.identity, self.signing.public_key(), self.sealing.public_key())


class World:
    """Registry (platform) + source node `source/tax` + banks, on two in-memory databases."""

    def __init__(
        self,
        *,
        node_id: str = TAX,
        policy: GatePolicy | None = None,
        status_source=None,
        registry_engine: Engine | None = None,
        node_engine: Engine | None = None,
    ) -> None:
        self.registry_engine = registry_engine or memory_engine()
        self.node_engine = node_engine or memory_engine()
        self.registry_audit = audit_log(self.registry_engine)
        self.node_audit = audit_log(self.node_engine)
        self.keys = EnterpriseKeyRegistry(self.registry_engine)
        self.keys.create_schema()
        self.store = AuthorisationStore(
            self.registry_engine, keys=self.keys, audit=self.registry_audit, subject_ref_key=b"registry-ref-key-0123"
        )
        self.store.create_schema()
        self.enterprise_key = Ed25519PrivateKey.generate()
        self.keys.bind(CREDIT_CODE, self.enterprise_key.public_key(), valid_from=T0 - timedelta(days=30))
        self.registry_key = Ed25519PrivateKey.generate()
        self.bank = Party(BANK)
        self.other_bank = Party(OTHER_BANK)
        self.node = Party(node_id)
        self.directory = InstitutionDirectory([self.bank.directory_entry(), self.other_bank.directory_entry()])
        self.status_source = status_source or StoreStatusSource(self.store)
        self.gate = AuthorisationGate(
            node_id=node_id,
            engine=self.node_engine,
            catalogue=TAX_CATALOGUE,
            enterprise_keys=self.keys,
            institutions=self.directory,
            status_source=self.status_source,
            registry_key=self.registry_key.public_key(),
            audit=self.node_audit,
            policy=policy,
        )
        self.gate.create_schema()
        self.responder = VerificationResponder(self.gate, lookup=dict_lookup(TABLE), signing_key=self.node.signing)
        self._nonces = itertools.count(1)

    @staticmethod
    def terms(**overrides: Any) -> Terms:
        base = dict(
            subject=Subject(CREDIT_CODE, "Hangzhou Example Textiles Co., Ltd."),
            authorised_by=AuthorisedBy("Zhang San", SignatoryRole.LEGAL_REPRESENTATIVE, IdentityCheck.FACE_RECOGNITION),
            grantee=BANK,
            providers=(TAX, SOCIAL),
            categories=(
                DataCategory("tax", Sensitivity.TRADE_SECRET),
                DataCategory("social_insurance", Sensitivity.PERSONAL),
            ),
            mode=Mode.VERIFY,
            purpose=Purpose.PRE_LOAN_REVIEW,
            loan_application_ref=LOAN_REF,
            created_at=T0 - timedelta(hours=2),
            not_before=T0 - timedelta(days=1),
            not_after=T0 + timedelta(days=30),
            max_uses=5,
            data_range=("2024", "2025"),
            data_life_days=90,
            feedback_deadline_days=30,
        )
        base.update(overrides)
        return Terms(**base)

    def sign(self, terms: Terms, *, key: Ed25519PrivateKey | None = None, signed_at: datetime | None = None) -> SignedTerms:
        return sign_terms(terms, key or self.enterprise_key, signed_at=signed_at or T0 - timedelta(hours=1))

    def active(self, **overrides: Any) -> SignedTerms:
        """An artefact signed by the enterprise, registered and activated at the registry."""
        artefact = self.sign(self.terms(**overrides))
        self.store.register(artefact, actor="platform/registry", now=T0 - timedelta(minutes=50))
        self.store.transition(
            artefact.terms.id,
            Status.ACTIVE,
            actor="platform/registry",
            reason=TransitionReason.IDENTITY_CONFIRMED,
            now=T0 - timedelta(minutes=45),
        )
        return artefact

    def request(
        self,
        artefact: SignedTerms,
        question: Question,
        *,
        now: datetime = T0,
        signer: Party | None = None,
        status: SignedStatus | None = None,
        **overrides: Any,
    ) -> SignedRequest:
        signer = signer or self.bank
        fields = dict(
            nonce=f"{next(self._nonces):032x}",
            timestamp=now,
            authorisation_id=artefact.terms.id,
            requester=signer.identity,
            provider=self.gate.node_id,
            purpose=artefact.terms.purpose,
            loan_application_ref=artefact.terms.loan_application_ref,
            question=question,
        )
        fields.update(overrides)
        return sign_request(VerificationRequest(**fields), signer.signing,
                            artefact=artefact, status=status)

    def consumed(self, authorisation_id: str, field_name: str = "tax_paid_2025") -> tuple[int, int, int]:
        """(uses, checks spent on the field, use leaves) at the node."""
        return (
            self.gate.ledger.uses(authorisation_id),
            self.gate.ledger.field_spent(authorisation_id, field_name),
            self.node_audit.count(kinds=USE_KINDS, authorisation_id=authorisation_id),
        )

