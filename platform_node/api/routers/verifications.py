"""`/v1/verification-keys`, `/v1/verifications`, `/v1/audit/*`: verification (核验) over HTTP for banks.

The bank registers its keys once (a binding signed with its certificate from the federation CA, which the
platform checks but cannot forge), then sends signed requests under a consent; the platform attaches the
enterprise-signed artefact and relays each to the source node it names over mutual TLS, exactly as the gRPC
relay does. Answers come back sealed to the bank's X25519 key and signed by the node: the platform relays
ciphertext it cannot read. Bank role only."""

from __future__ import annotations

from fastapi import APIRouter
from google.protobuf.message import DecodeError

from consent.audit import AuditEvent, issue_receipt
from consent.authorisation import SignedRequest, UnknownAuthorisation, WireFormatError
from consent.authorisation.codec import b64decode, b64encode, format_time
from federation.key_binding import KeyBindingInvalid, KeyPurpose
from federation.pki import PkiError
from federation.proto import verification_pb2
from platform_node.api.deps import BankInstitution, CurrentInstitution, Services
from platform_node.api.errors import (
    InvalidKeyBinding,
    NotOwnLeaf,
    NotYetCheckpointed,
    VerificationUnavailable,
)
from platform_node.api.schemas.common import error_responses
from platform_node.api.schemas.uses import InclusionReceiptOut
from platform_node.api.schemas.verifications import (
    AuditKeysOut,
    CheckOut,
    LeafReceiptWire,
    VerificationIn,
    VerificationKeysIn,
    VerificationKeysOut,
    VerificationOut,
)
from platform_node.api.services import PlatformServices
from platform_node.consent_registry import ConsentRegistryNode, RelayOutcome, relay_verification
from platform_node.consent_registry.witnesses import checkpoint_size

router = APIRouter(tags=["verification"])
_ERRORS = error_responses(401, 403, 404, 409, 422, 429, 503)
NOT_AUTHORISED = "NOT_AUTHORISED"


def _consent(services: PlatformServices) -> ConsentRegistryNode:
    if services.consent is None:
        raise VerificationUnavailable("no consent registry")
    return services.consent


@router.put("/v1/verification-keys", response_model=VerificationKeysOut, summary="Register the bank's keys",
            responses=_ERRORS)
def put_keys(body: VerificationKeysIn, institution: BankInstitution, services: Services) -> VerificationKeysOut:
    """The binding must be signed by a certificate the federation CA issued to this very institution (its id
    is the certificate's identity), valid and not revoked, and bind both a `request_signing` and an
    `answer_sealing` key. Source nodes check it again themselves before sealing an answer to it."""
    consent = _consent(services)
    binding = verification_pb2.KeyBinding()
    try:
        binding.ParseFromString(b64decode(body.binding))
        bound = consent.bindings.verify(binding, expected=institution.id, now=services.now())
        bound.key(KeyPurpose.REQUEST_SIGNING)
        bound.key(KeyPurpose.ANSWER_SEALING)
    except (DecodeError, WireFormatError, KeyBindingInvalid, PkiError) as exc:
        raise InvalidKeyBinding(str(exc)) from None
    stored = consent.registry.register_bank_keys(institution.id, binding, issued_at=bound.issued_at,
                                                 now=services.now())
    return VerificationKeysOut(institution_id=institution.id, stored=stored, issued_at=format_time(bound.issued_at))


def check_out(outcome: RelayOutcome, provider: str | None) -> CheckOut:
    return CheckOut(
        request_id=outcome.request_id, provider=provider,
        status="ANSWERED" if outcome.sealed_answer is not None else "REFUSED", refusal=outcome.refusal,
        sealed_answer=None if outcome.sealed_answer is None else b64encode(outcome.sealed_answer),
        provider_keys=None if outcome.provider_keys is None else b64encode(outcome.provider_keys.SerializeToString()),
        receipts=[LeafReceiptWire(index=r.index, tree_size=r.tree_size, root=r.root.hex(), leaf=b64encode(r.leaf))
                  for r in outcome.receipts])


@router.post("/v1/verifications", response_model=VerificationOut, summary="Verify under a consent",
             responses=_ERRORS)
def verify(body: VerificationIn, institution: BankInstitution, services: Services) -> VerificationOut:
    """Each signed request is relayed to the source node it names, with the consent's enterprise-signed
    artefact and a fresh registry-signed status; the node runs its gate (docs/protocols/consent.md, section 3)
    and answers or refuses. Every outcome is a leaf of the platform's log (the node's own leaf, byte for byte)
    and comes back with its receipt. A consent another bank holds, or none, is `NOT_AUTHORISED` (the same
    answer, so no bank learns whether another's consent exists)."""
    consent = _consent(services)
    try:
        artefact = consent.registry.store.get(body.consent_id).artefact
    except UnknownAuthorisation:
        artefact = None
    results = []
    for item in body.requests:
        payload, signature = b64decode(item.payload), b64decode(item.signature)
        provider = None
        if artefact is None:
            results.append(CheckOut(request_id=None, provider=None, status="REFUSED", refusal=NOT_AUTHORISED))
            continue
        signed = SignedRequest(payload, signature, artefact)
        try:
            provider = signed.parse().provider
        except WireFormatError:
            provider = None
        outcome = relay_verification(signed.to_bytes(), caller=institution.id, registry=consent.registry,
                                     channels=consent.channels, now=services.now(), timeout=consent.relay_timeout,
                                     usage=consent.usage)
        results.append(check_out(outcome, provider))
    return VerificationOut(consent_id=body.consent_id, results=results)


@router.get("/v1/audit/receipts/{index}", response_model=InclusionReceiptOut,
            summary="Inclusion receipt of one of the institution's own leaves", responses=_ERRORS)
def get_receipt(index: int, institution: CurrentInstitution, services: Services) -> InclusionReceiptOut:
    """Against the latest cosigned checkpoint (`409 NOT_YET_CHECKPOINTED` until one covers the leaf); only for
    leaves that name the calling institution."""
    note = services.audit.latest_checkpoint()
    if index < 0 or note is None or index >= checkpoint_size(note):
        raise NotYetCheckpointed()
    if AuditEvent.from_leaf(services.audit.leaf(index).leaf).institution != institution.id:
        raise NotOwnLeaf(f"leaf {index} is not {institution.id}'s")
    receipt = issue_receipt(services.audit, index, note)
    return InclusionReceiptOut(leaf=b64encode(receipt.leaf), index=receipt.index,
                               proof=[b64encode(p) for p in receipt.proof], checkpoint=receipt.checkpoint)


@router.get("/v1/audit/keys", response_model=AuditKeysOut, summary="The log's and the witnesses' keys",
            responses=_ERRORS)
def get_keys(institution: CurrentInstitution, services: Services) -> AuditKeysOut:
    """Certificate-bound, so a client checks them against the federation CA rather than trusting the platform:
    the platform's status-signing and audit-log keys, and every witness's cosigning key."""
    consent = _consent(services)
    witnesses = consent.registry.sources()
    return AuditKeysOut(
        registry_keys=b64encode(consent.registry.keyring.binding(consent.tls, now=services.now()).SerializeToString()),
        log_origin=consent.registry.keyring.origin,
        witnesses=[b64encode(w.binding.SerializeToString()) for w in witnesses],
        quorum=consent.publishing.quorum(len(witnesses)))

