"""Consent over HTTP: banks' consent requests, the enterprise's approval (its signature on the terms),
decline, pause, resume and revocation (signed instructions), each change logged and pushed to the bank."""

from platform_node.consent_requests.desk import CONSENT_EVENT, USE_KINDS, ConsentDesk
from platform_node.consent_requests.errors import (
    InvalidConsentRequest,
    NotTheSubject,
    RequestNotPending,
    SignatureRefused,
    TermsMismatch,
    UnknownConsentRequest,
)
from platform_node.consent_requests.model import ConsentRequest, RequestSpec, RequestStatus

__all__ = [
    "CONSENT_EVENT",
    "USE_KINDS",
    "ConsentDesk",
    "ConsentRequest",
    "InvalidConsentRequest",
    "NotTheSubject",
    "RequestNotPending",
    "RequestSpec",
    "RequestStatus",
    "SignatureRefused",
    "TermsMismatch",
    "UnknownConsentRequest",
]
