"""A bank's side of verification over the network: its keys, its signed requests, opening sealed answers.

The bank talks to the platform's `ConsentRegistry` over mutual TLS with its `bank/<name>` certificate. It
trusts nothing the platform says about keys unless a certificate the CA issued vouches for it: the answering
node's signing key comes in a binding signed by that node's certificate; the bank's own keys reach the node
in a binding signed by the bank's certificate. Used by the demo, the benchmark and the tests; the HTTP API
offers the same relay to banks without gRPC.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from cli.bank_keys import BankKeys, VerificationResult
from consent.audit import CosignatureVerifier, Ed25519Verifier, InclusionReceipt, LogTrust
from consent.authorisation import (
    Purpose,
    Question,
    SealedAnswer,
    SignedRequest,
    SignedTerms,
    VerificationRequest,
    open_answer,
    parse_predicate,
    sign_request,
)
from federation.grpc_channel import open_secure_channel
from federation.key_binding import (
    BindingVerifier,
    KeyPurpose,
    bind_keys,
    log_origin,
)
from federation.pki import Identity, NodeTls
from federation.proto import verification_pb2, verification_pb2_grpc

PLATFORM = Identity("platform", "main")


class BankClient:
    """A bank's gRPC client of the platform's relay."""

    def __init__(
        self, tls: NodeTls, platform_address: str, *, keys: BankKeys, platform: Identity = PLATFORM,
        timeout: float = 10.0,
    ) -> None:
        if tls.identity.role != "bank":
            raise ValueError(f"{tls.identity} is not a bank certificate")
        self.tls = tls
        self.identity = tls.identity.party
        self.keys = keys
        self.platform = platform
        self._timeout = timeout
        self._bindings = BindingVerifier(tls.ca_pem, tls.crl_path)
        self._channel = open_secure_channel(platform_address, tls, platform)
        self.stub = verification_pb2_grpc.ConsentRegistryStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> BankClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def register_keys(self, *, now: datetime) -> None:
        """Give the platform this bank's keys, signed with its certificate key (once, and after rotation)."""
        self.stub.RegisterKeys(bind_keys(self.tls, self.keys.public_keys(), now=now), timeout=self._timeout)

    def sign(self, artefact: SignedTerms, *, provider: str, question: Question | str, now: datetime,
             purpose: Purpose | None = None, loan_application_ref: str | None = None,
             rng: Callable[[int], bytes] = os.urandom) -> SignedRequest:
        """A signed request under `artefact` to `provider` (purpose and loan reference default to the terms')."""
        terms = artefact.terms
        request = VerificationRequest.new(
            authorisation_id=terms.id, requester=self.identity, provider=provider,
            purpose=purpose or terms.purpose, loan_application_ref=loan_application_ref or terms.loan_application_ref,
            question=parse_predicate(question) if isinstance(question, str) else question, now=now, rng=rng,
        )
        return sign_request(request, self.keys.signing, artefact=artefact)

    def relay(self, signed: SignedRequest) -> verification_pb2.RelayReply:
        """Send a signed request through the platform; the raw reply (tests inspect it)."""
        return self.stub.Relay(verification_pb2.RelayRequest(signed_request=signed.to_bytes()), timeout=self._timeout)

    def open(self, signed: SignedRequest, reply: verification_pb2.RelayReply, *, now: datetime) -> VerificationResult:
        """Check the node's binding against the CA and open its sealed answer (raises `AnswerRejected` if the
        answer was tampered with, signed by another key, or answers another request)."""
        provider = signed.parse().provider
        receipts = tuple(reply.receipts)
        if not reply.HasField("sealed_answer"):
            return VerificationResult(signed.request_id, None, reply.refusal.code, receipts)
        bound = self._bindings.verify(reply.provider_keys, expected=provider, now=now)
        answer = open_answer(
            SealedAnswer.from_bytes(reply.sealed_answer), recipient_key=self.keys.sealing,
            provider_key=Ed25519PublicKey.from_public_bytes(bound.key(KeyPurpose.ANSWER_SIGNING)),
            request_id=signed.request_id, provider=provider,
        )
        return VerificationResult(signed.request_id, answer, None, receipts)

    def verify(self, artefact: SignedTerms, *, provider: str, question: Question | str, now: datetime,
               rng: Callable[[int], bytes] = os.urandom) -> VerificationResult:
        """Sign, relay and open one verification."""
        signed = self.sign(artefact, provider=provider, question=question, now=now, rng=rng)
        return self.open(signed, self.relay(signed), now=now)

    def receipt(self, index: int) -> InclusionReceipt:
        """The inclusion receipt of one of this bank's leaves against the latest checkpoint."""
        reply = self.stub.Receipt(verification_pb2.ReceiptRequest(index=index), timeout=self._timeout)
        return InclusionReceipt.from_json(reply.receipt)

    def log_trust(self, *, now: datetime) -> LogTrust:
        """The registry's log key and the witnesses' keys, each checked against its certificate binding."""
        return fetch_log_trust(self.stub, self._bindings, platform=self.platform, now=now, timeout=self._timeout)


def fetch_log_trust(stub: verification_pb2_grpc.ConsentRegistryStub, bindings: BindingVerifier, *,
                    platform: Identity, now: datetime, timeout: float = 10.0) -> LogTrust:
    """Ask the registry for its keys and its witnesses' keys; keep only what certificates vouch for."""
    reply = stub.RegistryKeys(verification_pb2.RegistryKeysRequest(), timeout=timeout)
    registry = bindings.verify(reply.registry_keys, expected=platform, now=now)
    log = Ed25519Verifier(log_origin(platform),
                          Ed25519PublicKey.from_public_bytes(registry.key(KeyPurpose.AUDIT_LOG)))
    witnesses = []
    for binding in reply.witnesses:
        bound = bindings.verify(binding, now=now)
        witnesses.append(CosignatureVerifier(
            bound.identity.party, Ed25519PublicKey.from_public_bytes(bound.key(KeyPurpose.WITNESS))))
    # The client's own floor: a strict majority of the witnesses it was shown, whatever the registry says.
    return LogTrust(log, tuple(witnesses), max(reply.quorum, len(witnesses) // 2 + 1 if witnesses else 0))


def rpc_code(exc: grpc.RpcError) -> str:
    """A short `CODE: details` text of a failed call."""
    return f"{exc.code().name}: {exc.details()}"
