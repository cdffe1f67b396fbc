"""The node's gRPC `Verification` service: gate, answer, sign and seal each request the platform relays.

The requesting bank's keys arrive with the request as a binding signed by the bank's certificate; the node
checks it against the CA, so the platform (which relays both) can neither swap the sealing key to read the
answer nor sign requests in the bank's name. Every leaf the gate writes to the node's own log during the
call is returned with the reply, for the platform to append the same bytes to the registry's log; a
cross-check later finds any the platform did not append.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from sqlalchemy import Connection

from consent.audit import AuditEvent, LeafReceipt, LocalUseLog
from consent.authorisation import (
    AuthorisationRefused,
    ConsentError,
    InstitutionKeys,
    RefusalReason,
    SignedRequest,
    UnknownInstitutionKeys,
    VerificationResponder,
    WireFormatError,
)
from consent.governance import Approval, ApprovalRefused, Task, TaskKind
from consent.governance.usage_lines import UsageKind
from errors import Refused, Unavailable
from federation.key_binding import BindingVerifier, KeyBindingInvalid, KeyPurpose
from federation.pki import Identity
from federation.proto import verification_pb2, verification_pb2_grpc
from federation.server import peer_identity
from source_node.governance import SourceGovernance
from source_node.verification.registry_link import PLATFORM

log = logging.getLogger("xyd.source.verification")

ANSWER_FAILED = "ANSWER_FAILED"


class LeafCapture:
    """The gate's `AuditSink`: records each event in the node's `LocalUseLog` inside the gate's transaction
    and remembers its leaf for the call in progress (`capturing`), so the reply can carry it."""

    def __init__(self, local: LocalUseLog) -> None:
        self._local = local
        self._current: ContextVar[list[bytes] | None] = ContextVar("xyd_captured_leaves", default=None)

    def append(self, conn: Connection, event: AuditEvent) -> LeafReceipt:
        receipt = self._local.record(conn, event)
        captured = self._current.get()
        if captured is not None:
            captured.append(receipt.leaf)
        return receipt

    @contextmanager
    def capturing(self) -> Iterator[list[bytes]]:
        """Collect the leaves appended by this thread until the block ends (only committed ones matter:
        callers read the list after the gate's transactions finished)."""
        leaves: list[bytes] = []
        token = self._current.set(leaves)
        try:
            yield leaves
        finally:
            self._current.reset(token)


class BindingDirectory:
    """The gate's `InstitutionDirectory`, filled from certificate-bound key bindings. The newest binding per
    identity wins (an old one replayed by a relay cannot bring back a rotated key), and its certificate is
    re-checked (validity, CRL) every time the gate asks."""

    def __init__(self, verifier: BindingVerifier, *, clock: Callable[[], datetime]) -> None:
        self._verifier = verifier
        self._clock = clock
        self._bindings: dict[str, verification_pb2.KeyBinding] = {}
        self._issued: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def offer(self, binding: verification_pb2.KeyBinding) -> str:
        """Verify and keep `binding` if it is the newest for its party; returns the party."""
        bound = self._verifier.verify(binding, now=self._clock())
        party = bound.identity.party
        with self._lock:
            if party not in self._issued or bound.issued_at >= self._issued[party]:
                self._bindings[party], self._issued[party] = binding, bound.issued_at
        return party

    def keys_of(self, identity: str) -> InstitutionKeys:
        with self._lock:
            binding = self._bindings.get(identity)
        if binding is None:
            raise UnknownInstitutionKeys(identity)
        try:
            bound = self._verifier.verify(binding, expected=identity, now=self._clock())
            return InstitutionKeys(
                identity,
                Ed25519PublicKey.from_public_bytes(bound.key(KeyPurpose.REQUEST_SIGNING)),
                X25519PublicKey.from_public_bytes(bound.key(KeyPurpose.ANSWER_SEALING)),
            )
        except KeyBindingInvalid as exc:
            raise UnknownInstitutionKeys(f"{identity}: {exc}") from exc


class VerificationServicer(verification_pb2_grpc.VerificationServicer):
    """Answers relayed requests once `ready` has given it a responder (i.e. the registry is reachable)."""

    def __init__(
        self,
        *,
        own_binding: Callable[[], verification_pb2.KeyBinding],
        directory: BindingDirectory,
        capture: LeafCapture,
        clock: Callable[[], datetime],
        relay: Identity = PLATFORM,
        rng: Callable[[int], bytes] = os.urandom,
        governance: SourceGovernance | None = None,
    ) -> None:
        self._own_binding = own_binding
        self._directory = directory
        self._capture = capture
        self._clock = clock
        self._relay = relay
        self._rng = rng
        self._governance = governance
        self._responder: VerificationResponder | None = None

    def ready(self, responder: VerificationResponder) -> None:
        self._responder = responder

    @property
    def is_ready(self) -> bool:
        return self._responder is not None

    def Answer(  # noqa: N802 - gRPC method name
        self, request: verification_pb2.RelayedRequest, context: grpc.ServicerContext
    ) -> verification_pb2.RelayedAnswer:
        caller = peer_identity(context)
        if caller != self._relay:
            raise Refused(f"{caller} is not the relay {self._relay}")
        responder = self._responder
        if responder is None:
            raise Unavailable("not connected to the consent registry yet", public="not connected to the consent registry yet")
        now = self._clock()
        try:
            signed = SignedRequest.from_bytes(request.signed_request)
        except (WireFormatError, ValueError, TypeError) as exc:
            log.info("refused a malformed relayed request: %s", exc)
            return verification_pb2.RelayedAnswer(refusal=verification_pb2.Refusal(
                code=RefusalReason.MALFORMED_REQUEST.public_code))
        if request.HasField("requester_keys"):
            try:
                self._directory.offer(request.requester_keys)
            except KeyBindingInvalid as exc:
                # The gate then refuses as UNKNOWN_REQUESTER unless it holds a good binding already.
                log.warning("relayed requester binding refused: %s", exc)
        approval = None
        if self._governance is not None:
            try:
                approval = self._approve(signed.parse(), caller.party)
            except ApprovalRefused as exc:
                log.info("refused %s: %s (%s)", signed.request_id, exc.code.value, exc.detail)
                return verification_pb2.RelayedAnswer(refusal=verification_pb2.Refusal(code=exc.code.value))
            except (WireFormatError, ValueError, TypeError):
                return verification_pb2.RelayedAnswer(refusal=verification_pb2.Refusal(
                    code=RefusalReason.MALFORMED_REQUEST.public_code))
        with self._capture.capturing() as leaves:
            try:
                sealed = responder.respond(signed, now=now, rng=self._rng)
                reply = verification_pb2.RelayedAnswer(sealed_answer=sealed.to_bytes())
                if approval is not None:  # the node's own record of what it answered
                    request = signed.parse()
                    self._governance.usage.count(
                        UsageKind.VERIFY, day=now.date().isoformat(), model_id="", institution=request.requester,
                        purpose=request.purpose.value, approval_id=approval.approval_id, n=1)
            except AuthorisationRefused as refusal:
                if approval is not None:  # the query was counted under the approval: give it back
                    self._governance.store.release(approval.approval_id, "queries", 1)
                log.info("refused %s: %s", signed.request_id, refusal.reason.value)
                reply = verification_pb2.RelayedAnswer(
                    refusal=verification_pb2.Refusal(code=refusal.reason.public_code))
            except ConsentError as exc:
                # Counted and logged, but the stored value could not be evaluated (e.g. wrong type in the
                # table): the leaf still goes to the registry, the bank gets no answer.
                log.error("answering %s failed after the use was recorded: %s", signed.request_id, exc)
                reply = verification_pb2.RelayedAnswer(refusal=verification_pb2.Refusal(code=ANSWER_FAILED))
        reply.audit_leaves.extend(leaves)
        return reply

    def _approve(self, request, relay: str) -> Approval:
        """The source unit's approval of answering this institution about this item (one query counted)."""
        assert self._governance is not None
        requester = request.requester
        return self._governance.policy.check(Task(
            kind=TaskKind.VERIFY, leader=relay, algorithm="verification", items=(request.question.field,),
            queries=1, institution=requester, institution_kind=requester.split("/")[0]))

    def Keys(  # noqa: N802 - gRPC method name
        self, request: verification_pb2.KeysRequest, context: grpc.ServicerContext
    ) -> verification_pb2.KeyBinding:
        return self._own_binding()
