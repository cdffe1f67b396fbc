"""The platform's gRPC `ConsentRegistry` service: who may call what is decided by the caller's certificate.

source nodes: Status, EnterpriseKey, Announce
admin (operators, compliance): BindEnterpriseKey, SubmitAuthorisation, ChangeStatus, PublishCheckpoint
coordinator: AppendGovernance, GovernanceProofs (its governance events, leaves of the one log)
anyone admitted: RegistryKeys, LatestCheckpoint
Banks are not admitted: they register keys, verify and fetch receipts over the HTTP API, which relays their
requests to the source nodes through `relay_verification` (node to node).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from consent.audit import QuorumError
from consent.authorisation import (
    ConsentError,
    DuplicateAuthorisation,
    FieldCatalogue,
    FieldSpec,
    IllegalTransition,
    SignedTerms,
    Status,
    TransitionReason,
    UnknownAuthorisation,
    UnknownEnterpriseKey,
)
from consent.authorisation.codec import parse_canonical
from errors import AlreadyExists, InvalidInput, NotFound, Refused, Unavailable
from federation.key_binding import BindingVerifier, KeyBindingInvalid
from federation.pki import Identity
from federation.proto import verification_pb2, verification_pb2_grpc
from federation.server import peer_identity
from platform_node.consent_registry.governance_intake import GovernanceIntake, IntakeItem
from platform_node.consent_registry.registry import ConsentRegistry
from platform_node.consent_registry.witnesses import CheckpointPublishing, checkpoint_size

log = logging.getLogger("xyd.platform.consent")

SOURCE, ADMIN, COORDINATOR = frozenset({"source"}), frozenset({"admin"}), frozenset({"coordinator"})


class ConsentRegistryServicer(verification_pb2_grpc.ConsentRegistryServicer):
    """gRPC face of a `ConsentRegistry` and its checkpoint publishing (the relay is reached through the HTTP API)."""

    def __init__(
        self,
        registry: ConsentRegistry,
        *,
        publishing: CheckpointPublishing,
        bindings: BindingVerifier,
        registry_keys: verification_pb2.KeyBinding,
        clock: Callable[[], datetime],
        governance: GovernanceIntake | None = None,
    ) -> None:
        self._registry = registry
        self._governance = governance or GovernanceIntake(registry.log)
        self._publishing = publishing
        self._bindings = bindings
        self._registry_keys = registry_keys
        self._clock = clock

    @staticmethod
    def _caller(context: grpc.ServicerContext, roles: frozenset[str]) -> Identity:
        identity = peer_identity(context)
        if identity.role not in roles:
            raise Refused(f"{identity} may not call this (needs {sorted(roles)})")
        return identity

    # -- source nodes ----------------------------------------------------------------------------------

    def Status(self, request, context):  # noqa: N802 - gRPC method names
        self._caller(context, SOURCE)
        try:
            signed = self._registry.signed_status(request.authorisation_id, now=self._clock())
        except UnknownAuthorisation as exc:
            raise NotFound("unknown authorisation") from exc
        return verification_pb2.SignedStatement(statement=signed.payload, signature=signed.signature)

    def EnterpriseKey(self, request, context):  # noqa: N802
        self._caller(context, SOURCE)
        try:
            return self._registry.enterprise_key_statement(request.credit_code, request.key_id, now=self._clock())
        except UnknownEnterpriseKey as exc:
            raise NotFound("no such enterprise key") from exc

    def Announce(self, request, context):  # noqa: N802
        caller = self._caller(context, SOURCE)
        self._verify_own_binding(request.keys, caller, context)
        try:
            catalogue = FieldCatalogue(FieldSpec(f.name, f.category, f.sensitivity, f.value_type, f.period or None)
                                       for f in request.catalogue) if request.catalogue else None
        except ValueError as exc:
            raise InvalidInput(f"catalogue refused: {exc}") from exc
        self._registry.announce(caller.party, request.address, request.keys, now=self._clock(), catalogue=catalogue)
        log.info("source node announced", extra={"node": caller.party, "address": request.address})
        return verification_pb2.AnnounceReply(party=caller.party)

    # -- anyone admitted ---------------------------------------------------------------------------------

    def RegistryKeys(self, request, context):  # noqa: N802
        witnesses = [s.binding for s in self._registry.sources()]
        return verification_pb2.RegistryKeysReply(
            registry_keys=self._registry_keys, log_origin=self._registry.keyring.origin, witnesses=witnesses,
            quorum=self._publishing.quorum(len(witnesses)),
        )

    def LatestCheckpoint(self, request, context):  # noqa: N802
        note = self._registry.log.latest_checkpoint()
        if note is None:
            return verification_pb2.CheckpointReply()
        return verification_pb2.CheckpointReply(note=note, size=checkpoint_size(note))

    # -- operators ---------------------------------------------------------------------------------------

    def BindEnterpriseKey(self, request, context):  # noqa: N802
        self._caller(context, ADMIN)
        try:
            key = Ed25519PublicKey.from_public_bytes(request.public_key)
            kid = self._registry.enterprise_keys.bind(
                request.credit_code, key, valid_from=datetime.fromtimestamp(request.valid_from, UTC))
        except (ValueError, ConsentError) as exc:
            raise InvalidInput(f"enterprise key refused: {exc}") from exc
        return verification_pb2.BindEnterpriseKeyReply(key_id=kid)

    def SubmitAuthorisation(self, request, context):  # noqa: N802
        caller = self._caller(context, ADMIN)
        now = self._clock()
        actor = request.actor or caller.party
        try:
            artefact = SignedTerms.from_json(parse_canonical(request.artefact))
            terms = self._registry.store.register(artefact, actor=actor, now=now)
            status = Status.PENDING
            if request.activate:
                self._registry.store.transition(terms.id, Status.ACTIVE, actor=actor,
                                                reason=TransitionReason.IDENTITY_CONFIRMED, now=now)
                status = Status.ACTIVE
        except DuplicateAuthorisation as exc:
            raise AlreadyExists("this artefact is already registered") from exc
        except (ValueError, ConsentError) as exc:
            raise InvalidInput(f"artefact refused: {exc}") from exc
        return verification_pb2.AuthorisationStatusReply(authorisation_id=terms.id, status=status.value)

    def ChangeStatus(self, request, context):  # noqa: N802
        caller = self._caller(context, ADMIN)
        try:
            change = self._registry.store.transition(
                request.authorisation_id, Status(request.target), actor=request.actor or caller.party,
                reason=TransitionReason(request.reason), now=self._clock())
        except (UnknownAuthorisation, IllegalTransition):
            raise  # NOT_FOUND, FAILED_PRECONDITION
        except (ValueError, ConsentError) as exc:
            raise InvalidInput(str(exc)) from exc
        return verification_pb2.AuthorisationStatusReply(authorisation_id=change.authorisation_id,
                                                         status=change.target.value)

    def PublishCheckpoint(self, request, context):  # noqa: N802
        self._caller(context, ADMIN)
        try:
            publication = self._publishing.publish()
        except QuorumError as exc:
            raise Unavailable(str(exc), public=f"witness quorum not reached: {exc}") from exc
        return verification_pb2.CheckpointReply(
            note=publication.note, size=publication.checkpoint.size,
            refusals=[f"{name}: {refusal}" for name, refusal in publication.refusals])

    # -- the coordinator ---------------------------------------------------------------------------------

    def AppendGovernance(self, request, context):  # noqa: N802
        caller = self._caller(context, COORDINATOR)
        receipts = self._governance.append(caller.party, [IntakeItem(e.seq, bytes(e.leaf)) for e in request.events])
        return verification_pb2.GovernanceReceipts(receipts=[verification_pb2.GovernanceReceipt(
            seq=r.seq, index=r.leaf_index, tree_size=r.tree_size, root=r.root) for r in receipts])

    def GovernanceProofs(self, request, context):  # noqa: N802
        caller = self._caller(context, COORDINATOR)
        wanted = sorted(self._governance.senders_leaves(caller.party, list(request.indexes)))
        log_ = self._registry.log
        note = log_.latest_checkpoint()
        if wanted and (note is None or checkpoint_size(note) <= wanted[-1]):
            try:  # the newest leaves are not covered yet: ask the witnesses now rather than at the next tick
                note = self._publishing.publish().note
            except QuorumError as exc:
                log.warning("no fresh checkpoint for governance proofs: %s", exc)
                note = log_.latest_checkpoint()
        size = 0 if note is None else checkpoint_size(note)
        proofs = [verification_pb2.GovernanceProof(index=i, leaf=log_.leaf(i).leaf, proof=log_.inclusion_proof(i, size))
                  for i in wanted if i < size]
        witnesses = [s.binding for s in self._registry.sources()]
        return verification_pb2.GovernanceProofReply(
            note=note or "", proofs=proofs, registry_keys=self._registry_keys, witnesses=witnesses,
            quorum=self._publishing.quorum(len(witnesses)))

    # ---------------------------------------------------------------------------------------------------

    def _verify_own_binding(self, binding, caller: Identity, context: grpc.ServicerContext):
        try:
            return self._bindings.verify(binding, expected=caller, now=self._clock())
        except KeyBindingInvalid as exc:
            raise InvalidInput(f"key binding refused: {exc}") from exc
