"""Authorisation artefacts, their lifecycle, and the gate a source node runs before answering a bank.

Enterprise signs `Terms` (-> `SignedTerms`); the registry keeps them in an `AuthorisationStore` with an
`EnterpriseKeyRegistry`; a bank signs a `VerificationRequest` (-> `SignedRequest`); the source node's
`AuthorisationGate` checks it and `VerificationResponder` answers with a `SealedAnswer` the bank opens with
`open_answer`. No gRPC, no HTTP: role packages wire these to the network.
"""

from consent.authorisation.answers import Answer, RawValue, TableLookup, dict_lookup, evaluate
from consent.authorisation.audit_sink import AuditSink, NoAudit, receipt_json
from consent.authorisation.catalogue import FieldCatalogue, FieldSpec, ValueType
from consent.authorisation.errors import (
    AnswerFault,
    AnswerRejected,
    AuthorisationRefused,
    ConsentError,
    DuplicateAuthorisation,
    EnterpriseKeyNotValid,
    IllegalTransition,
    InvalidQuestion,
    InvalidSignature,
    InvalidTerms,
    RefusalReason,
    StaleStatus,
    StatusUnavailable,
    UnknownAuthorisation,
    UnknownEnterpriseKey,
    UnknownInstitutionKeys,
    WireFormatError,
)
from consent.authorisation.gate import MODE_ALLOWS, AuthorisationGate, AuthorisedUse, GatePolicy
from consent.authorisation.institutions import InstitutionDirectory, InstitutionKeys
from consent.authorisation.key_registry import EnterpriseKey, EnterpriseKeyLookup, EnterpriseKeyRegistry
from consent.authorisation.lifecycle import (
    ALLOWED_TRANSITIONS,
    TERMINAL,
    Status,
    Transition,
    TransitionReason,
    check_transition,
)
from consent.authorisation.questions import (
    Comparison,
    MatchCheck,
    Predicate,
    Question,
    QuestionKind,
    RawDetail,
    parse_predicate,
)
from consent.authorisation.request import SignedRequest, VerificationRequest, sign_request
from consent.authorisation.responder import VerificationResponder
from consent.authorisation.sealing import SealedAnswer, open_answer, seal_answer
from consent.authorisation.signatures import SignedTerms, key_id, sign_terms
from consent.authorisation.status_source import (
    SignedStatus,
    StatusSource,
    StatusStatement,
    StoreStatusSource,
    issue_status,
)
from consent.authorisation.store import AuthorisationRecord, AuthorisationStore
from consent.authorisation.terms import (
    AuthorisedBy,
    DataCategory,
    IdentityCheck,
    Mode,
    Purpose,
    Sensitivity,
    SignatoryRole,
    Subject,
    Terms,
)

__all__ = [
    "ALLOWED_TRANSITIONS",
    "MODE_ALLOWS",
    "TERMINAL",
    "Answer",
    "AnswerFault",
    "AnswerRejected",
    "AuditSink",
    "AuthorisationGate",
    "AuthorisationRecord",
    "AuthorisationRefused",
    "AuthorisationStore",
    "AuthorisedBy",
    "AuthorisedUse",
    "Comparison",
    "ConsentError",
    "DataCategory",
    "DuplicateAuthorisation",
    "EnterpriseKey",
    "EnterpriseKeyLookup",
    "EnterpriseKeyNotValid",
    "EnterpriseKeyRegistry",
    "FieldCatalogue",
    "FieldSpec",
    "GatePolicy",
    "IdentityCheck",
    "IllegalTransition",
    "InstitutionDirectory",
    "InstitutionKeys",
    "InvalidQuestion",
    "InvalidSignature",
    "InvalidTerms",
    "MatchCheck",
    "Mode",
    "NoAudit",
    "Predicate",
    "Purpose",
    "Question",
    "QuestionKind",
    "RawDetail",
    "RawValue",
    "RefusalReason",
    "SealedAnswer",
    "Sensitivity",
    "SignatoryRole",
    "SignedRequest",
    "SignedStatus",
    "SignedTerms",
    "StaleStatus",
    "Status",
    "StatusSource",
    "StatusStatement",
    "StatusUnavailable",
    "StoreStatusSource",
    "Subject",
    "TableLookup",
    "Terms",
    "Transition",
    "TransitionReason",
    "UnknownAuthorisation",
    "UnknownEnterpriseKey",
    "UnknownInstitutionKeys",
    "ValueType",
    "VerificationRequest",
    "VerificationResponder",
    "WireFormatError",
    "check_transition",
    "dict_lookup",
    "evaluate",
    "issue_status",
    "key_id",
    "open_answer",
    "parse_predicate",
    "receipt_json",
    "seal_answer",
    "sign_request",
    "sign_terms",
]
