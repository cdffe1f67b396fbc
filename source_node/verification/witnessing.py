"""The node's gRPC `Witness` service: cosign the registry's checkpoints only along one append-only history.

The checks are `consent.audit.Witness`'s (log signature, no rollback, no split view, a consistency proof
from the last head this node cosigned); this adapter maps its typed refusals onto the wire. `LatestCosigned`
hands the latest cosigned checkpoint, cosigned afresh, to anyone the server admits: a compliance officer
proves the registry's stored log extends it (the node's server admits the admin role to that method only,
`OFFICER_METHODS`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

import grpc

from consent.audit import (
    AuditError,
    InconsistentCheckpointError,
    RollbackError,
    SplitViewError,
    UnknownLogError,
    Witness,
    WitnessConflict,
)
from errors import Refused, Unavailable
from federation.pki import Identity
from federation.proto import verification_pb2, verification_pb2_grpc
from federation.server import peer_identity
from source_node.verification.registry_link import PLATFORM

log = logging.getLogger("xyd.source.witness")

# What an admin (compliance) certificate may call on a source node: nothing else of the node's services.
OFFICER_METHODS = frozenset({"/xyd.verification.Witness/LatestCosigned"})


def refusal_message(error: AuditError) -> verification_pb2.WitnessRefusal:
    """The wire form of a witness refusal (the kind names the consent.audit error type)."""
    out = verification_pb2.WitnessRefusal(kind="OTHER", detail=str(error))
    if isinstance(error, RollbackError):
        out.kind, out.known_size, out.offered_size = "ROLLBACK", error.known_size, error.offered_size
    elif isinstance(error, SplitViewError):
        out.kind, out.known_size, out.offered_size = "SPLIT_VIEW", error.size, error.size
        out.known_root, out.offered_root = error.known_root, error.offered_root
    elif isinstance(error, WitnessConflict):
        out.kind, out.known_size, out.offered_size = "CONFLICT", error.known_size, error.claimed_size
    elif isinstance(error, InconsistentCheckpointError):
        out.kind = "INCONSISTENT"
    elif isinstance(error, UnknownLogError):
        out.kind = "UNKNOWN_LOG"
    return out


class WitnessServicer(verification_pb2_grpc.WitnessServicer):
    """Serves a `Witness` once `ready` has given it one (it needs the registry's log key first)."""

    def __init__(self, *, clock: Callable[[], datetime], log_operator: Identity = PLATFORM) -> None:
        self._clock = clock
        self._operator = log_operator
        self._witness: Witness | None = None

    def ready(self, witness: Witness) -> None:
        self._witness = witness

    def _require(self, context: grpc.ServicerContext) -> Witness:
        witness = self._witness
        if witness is None:
            raise Unavailable("witness not ready: registry keys not fetched yet", public="witness not ready")
        return witness

    def KnownSize(  # noqa: N802 - gRPC method name
        self, request: verification_pb2.KnownSizeRequest, context: grpc.ServicerContext
    ) -> verification_pb2.KnownSizeReply:
        return verification_pb2.KnownSizeReply(size=self._require(context).known_size(request.origin))

    def AddCheckpoint(  # noqa: N802 - gRPC method name
        self, request: verification_pb2.AddCheckpointRequest, context: grpc.ServicerContext
    ) -> verification_pb2.AddCheckpointReply:
        caller = peer_identity(context)
        if caller != self._operator:
            raise Refused(f"{caller} does not operate the log")
        witness = self._require(context)
        try:
            signature = witness.add_checkpoint(
                request.note, old_size=request.old_size, proof=list(request.proof), now=self._clock()
            )
        except AuditError as error:
            if not isinstance(error, WitnessConflict):
                log.warning("refused to cosign: %s", error)
            return verification_pb2.AddCheckpointReply(refusal=refusal_message(error))
        return verification_pb2.AddCheckpointReply(cosignature=verification_pb2.Cosignature(
            name=signature.name, key_id=signature.key_id, signature=signature.signature))

    def LatestCosigned(  # noqa: N802 - gRPC method name
        self, request: verification_pb2.LatestCosignedRequest, context: grpc.ServicerContext
    ) -> verification_pb2.LatestCosignedReply:
        note = self._require(context).latest_cosigned(request.origin, now=self._clock())
        log.info("latest cosigned checkpoint asked", extra={"by": peer_identity(context).party,
                                                            "origin": request.origin[:128]})
        return verification_pb2.LatestCosignedReply(note=note or "")
