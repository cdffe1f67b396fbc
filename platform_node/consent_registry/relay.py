"""The platform's relay: a bank's signed request (from the HTTP API) to the source node it names over mutual-TLS
gRPC, the sealed answer back.

The platform cannot read the answer (sealed to the bank's X25519 key, which reaches the node in a binding
signed by the bank's certificate) nor change the request (bank signature) without detection. What it adds:
a fresh registry-signed status (the node uses it only if it cannot reach the registry online), the bank's
key binding, and the node's audit leaves appended to the registry's log, whose receipts go to the bank.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import grpc

from consent.audit import LeafReceipt
from consent.authorisation import SignedRequest, UnknownAuthorisation, WireFormatError
from consent.governance.usage_lines import UsageKind
from federation.grpc_channel import PeerChannels
from federation.pki import Identity, NodeTls
from federation.proto import verification_pb2, verification_pb2_grpc
from platform_node.consent_registry.registry import ConsentRegistry, SourceEntry
from platform_node.usage_reporting import AnswerCounter

log = logging.getLogger("xyd.platform.relay")

# Refusals the relay itself gives (the node's own codes are RefusalReason public codes).
MALFORMED_REQUEST = "MALFORMED_REQUEST"
REQUESTER_MISMATCH = "REQUESTER_MISMATCH"
UNKNOWN_PROVIDER = "UNKNOWN_PROVIDER"
KEYS_NOT_REGISTERED = "KEYS_NOT_REGISTERED"
PROVIDER_UNAVAILABLE = "PROVIDER_UNAVAILABLE"


@dataclass(frozen=True)
class RelayOutcome:
    """What goes back to the bank: the sealed answer or a refusal code, the answering node's binding, and
    the registry-log receipts of the leaves the node wrote for this request."""

    request_id: str | None
    sealed_answer: bytes | None
    refusal: str | None
    provider_keys: verification_pb2.KeyBinding | None
    receipts: tuple[LeafReceipt, ...] = ()


def _refused(code: str, request_id: str | None = None, provider: SourceEntry | None = None) -> RelayOutcome:
    return RelayOutcome(request_id, None, code, None if provider is None else provider.binding)


class SourceChannels:
    """mTLS channels to source nodes, each pinned to the node's identity (its certificate's DNS SAN)."""

    def __init__(self, tls: NodeTls) -> None:
        self._channels = PeerChannels(tls)

    def verification(self, source: SourceEntry) -> verification_pb2_grpc.VerificationStub:
        return verification_pb2_grpc.VerificationStub(self._channels.get(source.address, Identity.parse(source.party)))

    def witness(self, source: SourceEntry) -> verification_pb2_grpc.WitnessStub:
        return verification_pb2_grpc.WitnessStub(self._channels.get(source.address, Identity.parse(source.party)))

    def close(self) -> None:
        self._channels.close()


def relay_verification(
    signed_request: bytes,
    *,
    caller: str,
    registry: ConsentRegistry,
    channels: SourceChannels,
    now: datetime,
    timeout: float = 5.0,
    usage: AnswerCounter | None = None,
) -> RelayOutcome:
    """Relay one request from bank `caller` (its authenticated identity) and record the node's leaves.

    Refusals by the relay: MALFORMED_REQUEST, REQUESTER_MISMATCH (a bank relaying another bank's request),
    UNKNOWN_PROVIDER (no such source node announced), KEYS_NOT_REGISTERED (the bank has not registered its
    keys), PROVIDER_UNAVAILABLE (the node did not answer in time). Anything else is the node's decision.
    """
    try:
        signed = SignedRequest.from_bytes(signed_request)
        request = signed.parse()
    except (WireFormatError, ValueError, TypeError):
        return _refused(MALFORMED_REQUEST)
    request_id = signed.request_id
    if request.requester != caller:
        return _refused(REQUESTER_MISMATCH, request_id)
    source = registry.source(request.provider)
    if source is None:
        return _refused(UNKNOWN_PROVIDER, request_id)
    bank_keys = registry.bank_binding(caller)
    if bank_keys is None:
        return _refused(KEYS_NOT_REGISTERED, request_id, source)
    try:
        signed = signed.with_status(registry.signed_status(request.authorisation_id, now=now))
    except UnknownAuthorisation:
        pass  # the node asks the registry itself and refuses; no statement to attach
    relayed = verification_pb2.RelayedRequest(signed_request=signed.to_bytes(), requester_keys=bank_keys)
    try:
        reply = channels.verification(source).Answer(relayed, timeout=timeout)
    except grpc.RpcError as exc:
        log.warning("source %s did not answer %s: %s %s", source.party, request_id, exc.code().name, exc.details())
        return _refused(PROVIDER_UNAVAILABLE, request_id, source)
    receipts = registry.record_relayed(
        list(reply.audit_leaves), provider=source.party, requester=caller, request_id=request_id
    )
    if reply.HasField("sealed_answer"):
        if usage is not None:  # the governance log's count of what each source answered
            usage.count(UsageKind.VERIFY, source=source.party, model_id="", institution=caller,
                        purpose=request.purpose.value, n=1)
        return RelayOutcome(request_id, reply.sealed_answer, None, source.binding, tuple(receipts))
    return RelayOutcome(request_id, None, reply.refusal.code, source.binding, tuple(receipts))
