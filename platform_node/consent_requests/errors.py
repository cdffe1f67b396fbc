"""Why the platform refuses a consent request, an approval or an instruction; rooted in the catalogue, each
with a stable public code (mapped by the HTTP edge without echoing what was submitted)."""

from __future__ import annotations

from errors import Conflict, IntegrityFailure, InvalidInput, NotFound, Refused


class UnknownConsentRequest(NotFound):
    code = "NOT_FOUND"
    default_public = "no such consent request or consent"
    detail_is_public = False


class InvalidConsentRequest(InvalidInput):
    """A bank's request the platform cannot turn into terms (unknown data item, inconsistent items, window)."""

    code = "INVALID_CONSENT_REQUEST"


class NotTheSubject(Refused):
    """An enterprise acting on a request or consent about another enterprise, or signing terms naming one."""

    code = "NOT_THE_SUBJECT"
    default_public = "this enterprise is not the subject of that consent"
    detail_is_public = False


class RequestNotPending(Conflict):
    code = "REQUEST_NOT_PENDING"
    default_public = "the consent request is no longer pending"
    detail_is_public = False


class TermsMismatch(IntegrityFailure):
    """The signed terms are not the terms of the request (changed in any field)."""

    code = "TAMPERED_TERMS"
    default_public = "the signed terms are not the terms of this request"


class SignatureRefused(Refused):
    """The enterprise's signature on an artefact or instruction does not count. `code`: BAD_SIGNATURE,
    KEY_NOT_VALID (unknown key, or rotated out or revoked at signing time), STALE_SIGNATURE (signed too long
    ago, or in the future), REPLAYED_INSTRUCTION (its nonce was used) or WRONG_INSTRUCTION (another action,
    target or enterprise)."""

    default_public = "the enterprise's signature was not accepted"
    detail_is_public = False

    def __init__(self, detail: str, *, code: str) -> None:
        super().__init__(detail, code=code)
