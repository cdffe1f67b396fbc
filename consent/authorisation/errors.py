"""The one error catalogue of the consent layer: refusal reason codes and the typed errors that carry them."""

from __future__ import annotations

from enum import StrEnum

from errors import (  # noqa: F401 (IllegalTransition is re-exported)
    AlreadyExists,
    Conflict,
    IllegalTransition,
    IntegrityFailure,
    InvalidInput,
    NotFound,
    Refused,
    Unavailable,
    XydError,
)


class RefusalReason(StrEnum):
    """Why the gate refused a request; each value is a stable code the edges translate for the caller."""

    MALFORMED_REQUEST = "MALFORMED_REQUEST"
    WRONG_PROVIDER = "WRONG_PROVIDER"
    STALE_TIMESTAMP = "STALE_TIMESTAMP"
    FUTURE_TIMESTAMP = "FUTURE_TIMESTAMP"
    UNKNOWN_REQUESTER = "UNKNOWN_REQUESTER"
    BAD_REQUEST_SIGNATURE = "BAD_REQUEST_SIGNATURE"
    REPLAYED_NONCE = "REPLAYED_NONCE"
    UNKNOWN_AUTHORISATION = "UNKNOWN_AUTHORISATION"
    UNKNOWN_ENTERPRISE_KEY = "UNKNOWN_ENTERPRISE_KEY"
    ENTERPRISE_KEY_NOT_VALID = "ENTERPRISE_KEY_NOT_VALID"
    BAD_ENTERPRISE_SIGNATURE = "BAD_ENTERPRISE_SIGNATURE"
    WRONG_GRANTEE = "WRONG_GRANTEE"
    STATUS_UNAVAILABLE = "STATUS_UNAVAILABLE"
    BAD_STATUS_STATEMENT = "BAD_STATUS_STATEMENT"
    NOT_ACTIVE = "NOT_ACTIVE"
    PAUSED = "PAUSED"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"
    NOT_YET_VALID = "NOT_YET_VALID"
    NOT_A_PROVIDER = "NOT_A_PROVIDER"
    WRONG_PURPOSE = "WRONG_PURPOSE"
    WRONG_MODE = "WRONG_MODE"
    SCOPE_EXCEEDED = "SCOPE_EXCEEDED"
    DATA_RANGE_EXCEEDED = "DATA_RANGE_EXCEEDED"
    BUDGET_EXHAUSTED = "BUDGET_EXHAUSTED"
    FIELD_BUDGET_EXHAUSTED = "FIELD_BUDGET_EXHAUSTED"

    @property
    def public_code(self) -> str:
        """The code shown outside the node; refusals that would tell a non-grantee whether an artefact
        or an enterprise key exists collapse into one answer."""
        return _PUBLIC_CODES.get(self, self.value)


_NOT_AUTHORISED = "NOT_AUTHORISED"
_PUBLIC_CODES = {
    RefusalReason.UNKNOWN_AUTHORISATION: _NOT_AUTHORISED,
    RefusalReason.UNKNOWN_ENTERPRISE_KEY: _NOT_AUTHORISED,
    RefusalReason.ENTERPRISE_KEY_NOT_VALID: _NOT_AUTHORISED,
    RefusalReason.BAD_ENTERPRISE_SIGNATURE: _NOT_AUTHORISED,
    RefusalReason.WRONG_GRANTEE: _NOT_AUTHORISED,
    RefusalReason.UNKNOWN_REQUESTER: "BAD_REQUEST_SIGNATURE",
}


class ConsentError(XydError):
    """Base class of every error raised by consent.authorisation."""


class AuthorisationRefused(ConsentError, Refused):
    """The gate refused a request; `reason` is the catalogue code, `detail` is for the node's log only."""

    def __init__(self, reason: RefusalReason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail


class WireFormatError(ConsentError, InvalidInput):
    """Bytes or a field on the wire do not have the canonical form this package writes."""


class InvalidTerms(ConsentError, InvalidInput):
    """Authorisation terms are incomplete, inconsistent, or do not hash to the id they claim."""


class InvalidSignature(ConsentError, IntegrityFailure):
    """An Ed25519 signature does not verify over the canonical bytes it claims to cover."""


class UnknownEnterpriseKey(ConsentError, NotFound):
    """No key with this id is bound to this enterprise's credit code."""

    def __init__(self, credit_code: str, key_id: str) -> None:
        super().__init__(f"no key {key_id} bound to {credit_code}")
        self.credit_code, self.key_id = credit_code, key_id


class EnterpriseKeyNotValid(ConsentError, Refused):
    """The key is bound, but was not valid at the time in question (not yet bound, rotated out, revoked)."""

    def __init__(self, key_id: str, at: str, why: str) -> None:
        super().__init__(f"key {key_id} not valid at {at}: {why}")
        self.key_id, self.at, self.why = key_id, at, why


class UnknownInstitutionKeys(ConsentError, NotFound):
    """No request-signing or sealing key is known for this institution identity."""



class StaleStatus(ConsentError, Conflict):
    """The status changed since it was read (another writer won the race); re-read and retry."""


class UnknownAuthorisation(ConsentError, NotFound):
    """The store holds no artefact with this id."""


class DuplicateAuthorisation(ConsentError, AlreadyExists):
    """An artefact with this id is already registered (identical terms are one artefact)."""


class StatusUnavailable(ConsentError, Unavailable):
    """The online status source could not answer (registry unreachable); a signed status may stand in."""


class InvalidQuestion(ConsentError, InvalidInput):
    """A question is malformed: unknown operator, bad constant, bad field name, negative tolerance."""


class AnswerFault(StrEnum):
    """Why a bank refused a sealed answer."""

    MALFORMED = "MALFORMED"
    TAMPERED = "TAMPERED"
    BAD_SIGNATURE = "BAD_SIGNATURE"
    MISMATCH = "MISMATCH"


class AnswerRejected(ConsentError, IntegrityFailure):
    """The bank refused a sealed answer: tampered ciphertext, bad node signature, or it answers another request."""

    def __init__(self, fault: AnswerFault, detail: str = "") -> None:
        super().__init__(f"{fault.value}: {detail}" if detail else fault.value)
        self.fault, self.detail = fault, detail
