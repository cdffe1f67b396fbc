"""Checkpoint publishing with the source nodes as witnesses over gRPC.

`GrpcWitnessClient` is the `consent.audit.WitnessClient` of a remote node: its typed refusals come back as
the same exception types (so the publisher's one retry on `WitnessConflict` works across the network), and a
node that does not answer counts as a refusal, never as a crash. `CheckpointPublishing` signs a checkpoint
whenever the log grew, at most every `interval`, and asks every announced node to cosign.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime

import grpc

from consent.audit import (
    Checkpoint,
    CheckpointPublisher,
    InconsistentCheckpointError,
    NoteSignature,
    Publication,
    QuorumError,
    RollbackError,
    SplitViewError,
    UnknownLogError,
    WitnessConflict,
    WitnessRefusal,
    parse_note,
)
from federation.proto import verification_pb2, verification_pb2_grpc
from platform_node.consent_registry.registry import ConsentRegistry
from platform_node.consent_registry.relay import SourceChannels

log = logging.getLogger("xyd.platform.checkpoints")


def refusal_error(refusal: verification_pb2.WitnessRefusal) -> WitnessRefusal:
    """The consent.audit error a witness's wire refusal stands for."""
    if refusal.kind == "ROLLBACK":
        return RollbackError(refusal.known_size, refusal.offered_size)
    if refusal.kind == "SPLIT_VIEW":
        return SplitViewError(refusal.known_size, refusal.known_root, refusal.offered_root)
    if refusal.kind == "CONFLICT":
        return WitnessConflict(refusal.known_size, refusal.offered_size)
    if refusal.kind == "INCONSISTENT":
        return InconsistentCheckpointError(refusal.detail)
    if refusal.kind == "UNKNOWN_LOG":
        return UnknownLogError(refusal.detail)
    return WitnessRefusal(refusal.detail)


class GrpcWitnessClient:
    """A source node's `Witness` service seen as a `WitnessClient`."""

    def __init__(self, name: str, stub: verification_pb2_grpc.WitnessStub, *, timeout: float = 5.0) -> None:
        self._name = name
        self._stub = stub
        self._timeout = timeout

    @property
    def name(self) -> str:
        return self._name

    def known_size(self, origin: str) -> int:
        try:
            return self._stub.KnownSize(verification_pb2.KnownSizeRequest(origin=origin), timeout=self._timeout).size
        except grpc.RpcError as exc:
            raise WitnessRefusal(f"{self._name} unreachable: {exc.code().name}") from exc

    def add_checkpoint(self, note: str, *, old_size: int, proof: Sequence[bytes], now: datetime) -> NoteSignature:
        request = verification_pb2.AddCheckpointRequest(note=note, old_size=old_size, proof=list(proof))
        try:
            reply = self._stub.AddCheckpoint(request, timeout=self._timeout)
        except grpc.RpcError as exc:
            raise WitnessRefusal(f"{self._name} unreachable: {exc.code().name}") from exc
        if reply.HasField("refusal"):
            raise refusal_error(reply.refusal)
        return NoteSignature(reply.cosignature.name, reply.cosignature.key_id, reply.cosignature.signature)


def checkpoint_size(note: str) -> int:
    """The tree size a checkpoint note commits to (signatures not checked)."""
    return Checkpoint.from_body(parse_note(note).text).size


def default_quorum(witnesses: int) -> int:
    """A strict majority: two conflicting checkpoints can then never both gather a quorum. With no witness
    announced yet it is 1, so nothing is published unwitnessed unless `quorum = 0` is configured."""
    return witnesses // 2 + 1


class CheckpointPublishing:
    """Publishes cosigned checkpoints of the registry's log; one publication at a time."""

    def __init__(
        self,
        registry: ConsentRegistry,
        channels: SourceChannels,
        *,
        clock: Callable[[], datetime],
        quorum: int | None = None,
        interval: float = 10.0,
    ) -> None:
        self._registry = registry
        self._channels = channels
        self._clock = clock
        self._quorum = quorum
        self._interval = interval
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def quorum(self, witnesses: int) -> int:
        return default_quorum(witnesses) if self._quorum is None else self._quorum

    def witnesses(self) -> list[GrpcWitnessClient]:
        return [GrpcWitnessClient(s.party, self._channels.witness(s)) for s in self._registry.sources()]

    def publish(self, *, now: datetime | None = None) -> Publication:
        """Sign the current head and gather cosignatures now; raises `QuorumError` (nothing recorded).
        `now` defaults to the publisher's clock (the HTTP API passes its own, the same clock)."""
        with self._lock:
            witnesses = self.witnesses()
            quorum = self.quorum(len(witnesses))
            if quorum > len(witnesses):
                raise QuorumError(quorum, len(witnesses))
            publisher = CheckpointPublisher(self._registry.log, self._registry.keyring.log_signer, witnesses,
                                            quorum=quorum)
            publication = publisher.publish(now=now or self._clock())
        for name, refusal in publication.refusals:
            level = logging.ERROR if isinstance(refusal, (SplitViewError, RollbackError)) else logging.WARNING
            log.log(level, "witness %s refused checkpoint %d: %s", name, publication.checkpoint.size, refusal)
        return publication

    def due(self) -> bool:
        """True if the log grew since the last recorded checkpoint (or none exists yet)."""
        latest = self._registry.log.latest_checkpoint()
        size = self._registry.log.tree_size()
        return latest is None or checkpoint_size(latest) < size

    def start(self) -> None:
        def run() -> None:
            while not self._stop.wait(self._interval):
                try:
                    if self.due() and (self._registry.sources() or self._quorum == 0):
                        self.publish()
                except QuorumError as exc:
                    log.warning("checkpoint not published: %s", exc)
                except Exception:  # keep publishing on the next tick; say why this one failed
                    log.exception("checkpoint publication failed")

        self._thread = threading.Thread(target=run, name="xyd-checkpoints", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
