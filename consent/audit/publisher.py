"""Publishing checkpoints: sign the current tree head, gather witness cosignatures, record the result.

Run `CheckpointPublisher.publish(now=...)` at intervals (every N seconds or N leaves: the caller's
schedule). Witnesses are reached through the `WitnessClient` protocol; a `Witness` object satisfies it
in-process, and the lead's gRPC adapter satisfies it across processes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from consent.audit.checkpoint import Checkpoint, add_cosignatures, sign_checkpoint
from consent.audit.errors import QuorumError, WitnessConflict, WitnessRefusal
from consent.audit.log import AuditLog
from consent.audit.note import Ed25519Signer, NoteSignature


class WitnessClient(Protocol):
    """How the log talks to a witness (in-process `Witness`, or a remote stub)."""

    @property
    def name(self) -> str: ...

    def known_size(self, origin: str) -> int: ...

    def add_checkpoint(
        self, note: str, *, old_size: int, proof: Sequence[bytes], now: datetime
    ) -> NoteSignature: ...


@dataclass(frozen=True)
class Publication:
    """A published checkpoint: the cosigned note, the head it commits to, and any witness refusals."""

    note: str
    checkpoint: Checkpoint
    refusals: tuple[tuple[str, WitnessRefusal], ...]


def request_cosignature(log: AuditLog, note: str, checkpoint: Checkpoint, witness: WitnessClient, *,
                        now: datetime) -> NoteSignature:
    """Ask one witness to cosign, proving consistency from whatever size it last saw (one retry on conflict)."""

    def attempt(old_size: int) -> NoteSignature:
        proof = log.consistency_proof(old_size, checkpoint.size) if 0 < old_size < checkpoint.size else []
        return witness.add_checkpoint(note, old_size=old_size, proof=proof, now=now)

    try:
        return attempt(witness.known_size(checkpoint.origin))
    except WitnessConflict as conflict:  # the witness moved on meanwhile: prove from what it saw
        return attempt(conflict.known_size)


class CheckpointPublisher:
    """Signs checkpoints of one log and collects a quorum of witness cosignatures."""

    def __init__(
        self,
        log: AuditLog,
        signer: Ed25519Signer,
        witnesses: Sequence[WitnessClient] = (),
        *,
        quorum: int = 0,
    ) -> None:
        if quorum > len(witnesses):
            raise ValueError(f"quorum {quorum} exceeds the {len(witnesses)} witnesses")
        self._log, self._signer, self._witnesses, self._quorum = log, signer, tuple(witnesses), quorum

    @property
    def origin(self) -> str:
        return self._signer.name

    def publish(self, *, now: datetime) -> Publication:
        """Checkpoint the current head; raise QuorumError (and record nothing) without enough cosignatures."""
        head = self._log.tree_head()
        checkpoint = Checkpoint(self.origin, head.size, head.root)
        note = sign_checkpoint(checkpoint, self._signer)
        signatures, refusals = [], []
        for witness in self._witnesses:
            try:
                signatures.append(request_cosignature(self._log, note, checkpoint, witness, now=now))
            except WitnessRefusal as refusal:
                refusals.append((witness.name, refusal))
        if len(signatures) < self._quorum:
            raise QuorumError(self._quorum, len(signatures))
        cosigned = add_cosignatures(note, signatures)
        with self._log.engine.begin() as conn:
            self._log.record_checkpoint(conn, checkpoint.size, cosigned, now=now)
        return Publication(cosigned, checkpoint, tuple(refusals))
