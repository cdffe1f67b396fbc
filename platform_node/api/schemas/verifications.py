"""Request and public models of verification (核验) over HTTP: the bank's certificate-bound keys, its signed
requests under a consent, and what comes back (sealed answers the platform cannot read, refusals, receipts)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from platform_node.api.schemas.common import RequestModel
from platform_node.api.schemas.consents import SignedIn
from platform_node.api.schemas.enterprises import Base64


class VerificationKeysIn(RequestModel):
    binding: Base64 = Field(description="The bank's `KeyBinding` (protobuf, federation/proto/verification.proto): "
                                        "its request-signing (Ed25519) and answer-sealing (X25519) public keys, "
                                        "signed with the private key of its certificate from the federation CA.")


class VerificationKeysOut(BaseModel):
    institution_id: str
    stored: bool = Field(description="False if a newer binding is on record (an old one cannot bring back a "
                                     "rotated key).")
    issued_at: str


class VerificationIn(RequestModel):
    consent_id: str = Field(pattern=r"^auth-[0-9a-f]{64}$", description="The consent (authorisation) id.")
    requests: list[SignedIn] = Field(min_length=1, max_length=16, description="The checks wanted, each a "
                                     "`VerificationRequest` (canonical JSON: nonce, time, consent id, the bank, "
                                     "the source node, purpose, loan reference, question) signed with the bank's "
                                     "request-signing key.")


class LeafReceiptWire(BaseModel):
    index: int
    tree_size: int
    root: str = Field(description="Hex root of the log right after the leaf.")
    leaf: str = Field(description="Base64 of the leaf.")


class CheckOut(BaseModel):
    request_id: str | None = Field(description="`req-` + SHA-256 of the signed payload.")
    provider: str | None
    status: str = Field(description="ANSWERED or REFUSED.")
    refusal: str | None = Field(None, description="The public refusal code (PAUSED, REVOKED, EXPIRED, "
                                                  "WRONG_PURPOSE, SCOPE_EXCEEDED, BUDGET_EXHAUSTED, "
                                                  "REPLAYED_NONCE, NOT_AUTHORISED, ...).")
    sealed_answer: str | None = Field(None, description="Base64 `SealedAnswer`: signed by the source node, sealed "
                                                        "to the bank's X25519 key (the platform cannot read it).")
    provider_keys: str | None = Field(None, description="Base64 `KeyBinding` of the answering node (check it "
                                                        "against the federation CA).")
    receipts: list[LeafReceiptWire] = Field(default_factory=list,
                                            description="Where the node's leaves for this request sit in the log.")


class VerificationOut(BaseModel):
    consent_id: str
    results: list[CheckOut]


class AuditKeysOut(BaseModel):
    registry_keys: str = Field(description="Base64 `KeyBinding` of the platform: its status-signing and audit-log "
                                           "keys, signed with the platform's certificate.")
    log_origin: str
    witnesses: list[str] = Field(description="Base64 `KeyBinding` of each witness (source node).")
    quorum: int
