"""Signed checkpoints in the C2SP tlog-checkpoint format, and their verification with witness quorums.

Body: origin line, tree size (decimal, no leading zeros), base64 root hash, optional extension lines. The
log signs the body as a signed note (Ed25519, type 0x01) under a key whose name is the origin; witnesses
add cosignature/v1 lines (type 0x04).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from consent.audit.cosignature import CosignatureVerifier
from consent.audit.errors import NoteError, QuorumError, SignatureError
from consent.audit.note import Ed25519Signer, Ed25519Verifier, Note, NoteSignature, open_note, parse_note
from consent.merkle import HASH_SIZE

# Cosignatures up to this far in the future still count (witness clocks are not perfectly in step).
CLOCK_SKEW = timedelta(seconds=60)
_SIZE = re.compile(r"0|[1-9][0-9]{0,18}")


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: origin (the log's identity), size and RFC 6962 root hash, plus optional extensions."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin or self.origin != self.origin.strip():
            raise NoteError("checkpoint origin must be one non-empty line")
        if not 0 <= self.size < 2**63:
            raise NoteError(f"checkpoint size {self.size} out of range")
        if len(self.root) != HASH_SIZE:
            raise NoteError(f"checkpoint root has {len(self.root)} bytes, expected {HASH_SIZE}")
        if any(not line or "\n" in line for line in self.extensions):
            raise NoteError("checkpoint extension lines must be non-empty single lines")

    def body(self) -> str:
        """The note text that is signed."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode(), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def from_body(cls, text: str) -> Checkpoint:
        """Parse a checkpoint body (the note text, with its final newline)."""
        if not text.endswith("\n"):
            raise NoteError("checkpoint body must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3 or any(not line for line in lines):
            raise NoteError("checkpoint body needs origin, size and root on non-empty lines")
        origin, size, root, *extensions = lines
        if not _SIZE.fullmatch(size):
            raise NoteError("checkpoint size is not a decimal without leading zeros")
        try:
            root_bytes = base64.b64decode(root, validate=True)
        except (binascii.Error, ValueError):
            raise NoteError("checkpoint root is not base64") from None
        return cls(origin, int(size), root_bytes, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, signer: Ed25519Signer) -> str:
    """The checkpoint as a signed note, signed by the log key (whose name should equal the origin)."""
    return Note(checkpoint.body(), (signer.sign(checkpoint.body()),)).encode()


def add_cosignatures(note: str, signatures: Iterable[NoteSignature]) -> str:
    """Append cosignature lines to a signed note (duplicates by name and key id are dropped)."""
    return parse_note(note).with_signatures(signatures).encode()


@dataclass(frozen=True)
class VerifiedCheckpoint:
    """A checkpoint whose log signature verified, with the witnesses whose cosignatures verified."""

    checkpoint: Checkpoint
    note: str
    cosigners: tuple[tuple[str, int], ...]  # (witness name, cosignature POSIX time)


def verify_checkpoint(
    note: str,
    log: Ed25519Verifier,
    *,
    witnesses: Sequence[CosignatureVerifier] = (),
    quorum: int = 0,
    now: datetime | None = None,
    max_age: timedelta | None = None,
) -> VerifiedCheckpoint:
    """Check the log's signature, the origin, and at least `quorum` valid witness cosignatures.

    With `now` and `max_age`, cosignatures older than `max_age` (or from the future) do not count:
    a fresh quorum shows the witnesses have not been shown a different, later tree. Unknown signatures
    are ignored; a bad signature from a known key rejects the whole note.
    """
    if quorum > len(witnesses):
        raise ValueError(f"quorum {quorum} exceeds the {len(witnesses)} configured witnesses")
    opened = open_note(note, [log, *witnesses])
    if not any(sig.name == log.name and sig.key_id == log.key_id for sig in opened.verified):
        raise SignatureError(f"checkpoint is not signed by the log key {log.name}")
    checkpoint = Checkpoint.from_body(opened.note.text)
    if checkpoint.origin != log.name:
        raise SignatureError(f"checkpoint origin {checkpoint.origin!r} is not the log {log.name!r}")
    by_id = {(w.name, w.key_id): w for w in witnesses}
    cosigners = []
    for sig in opened.verified:
        witness = by_id.get((sig.name, sig.key_id))
        if witness is None:
            continue
        timestamp = witness.timestamp_of(sig)
        if now is not None and max_age is not None:
            age = now.timestamp() - timestamp
            if age > max_age.total_seconds() or age < -CLOCK_SKEW.total_seconds():
                continue
        cosigners.append((sig.name, timestamp))
    if len(cosigners) < quorum:
        raise QuorumError(quorum, len(cosigners))
    return VerifiedCheckpoint(checkpoint, note, tuple(cosigners))
