"""Inclusion receipts: a leaf, its index, its audit path, and a signed (cosigned) checkpoint.

Handed to a bank or an enterprise with each answer (once a checkpoint covers the leaf), a receipt lets
them prove later, to anyone holding the log's and the witnesses' public keys, that the use was logged;
the log can no longer drop or change that leaf without contradicting a checkpoint it signed.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from consent.audit.checkpoint import Checkpoint, VerifiedCheckpoint, verify_checkpoint
from consent.audit.cosignature import CosignatureVerifier
from consent.audit.errors import NoteError
from consent.audit.events import AuditEvent
from consent.audit.log import AuditLog
from consent.audit.note import Ed25519Verifier, parse_note
from consent.canonical_json import canonical_json
from consent.merkle import leaf_hash, verify_inclusion


@dataclass(frozen=True)
class InclusionReceipt:
    """Proof that `leaf` is entry `index` of the tree the checkpoint note commits to."""

    leaf: bytes
    index: int
    proof: tuple[bytes, ...]
    checkpoint: str

    def to_json(self) -> bytes:
        """Canonical JSON (base64 for bytes): the form that crosses process boundaries."""
        return canonical_json(
            {
                "leaf": base64.b64encode(self.leaf).decode(),
                "index": self.index,
                "proof": [base64.b64encode(p).decode() for p in self.proof],
                "checkpoint": self.checkpoint,
            }
        )

    @classmethod
    def from_json(cls, data: bytes | str) -> InclusionReceipt:
        """Parse `to_json` output, refusing unknown keys and wrong types."""
        try:
            document = json.loads(data)
            if set(document) != {"leaf", "index", "proof", "checkpoint"}:
                raise NoteError("receipt must have exactly leaf, index, proof, checkpoint")
            index = document["index"]
            if not isinstance(index, int) or isinstance(index, bool) or index < 0:
                raise NoteError("receipt index must be a non-negative integer")
            if not isinstance(document["checkpoint"], str) or not isinstance(document["proof"], list):
                raise NoteError("receipt checkpoint must be text and proof a list")
            leaf = base64.b64decode(document["leaf"], validate=True)
            proof = tuple(base64.b64decode(p, validate=True) for p in document["proof"])
        except (ValueError, TypeError, AttributeError, binascii.Error) as error:
            raise NoteError(f"malformed receipt: {error}") from None
        return cls(leaf, index, proof, document["checkpoint"])


def issue_receipt(log: AuditLog, index: int, checkpoint_note: str) -> InclusionReceipt:
    """Build the receipt of leaf `index` against a checkpoint the log published (index < its size)."""
    checkpoint = Checkpoint.from_body(parse_note(checkpoint_note).text)
    proof = log.inclusion_proof(index, checkpoint.size)
    return InclusionReceipt(log.leaf(index).leaf, index, tuple(proof), checkpoint_note)


def verify_receipt(
    receipt: InclusionReceipt,
    log: Ed25519Verifier,
    *,
    witnesses: Sequence[CosignatureVerifier] = (),
    quorum: int = 0,
    now: datetime | None = None,
    max_age: timedelta | None = None,
) -> tuple[AuditEvent, VerifiedCheckpoint]:
    """Check the checkpoint's signatures and quorum, then the audit path; return the logged event."""
    verified = verify_checkpoint(
        receipt.checkpoint, log, witnesses=witnesses, quorum=quorum, now=now, max_age=max_age
    )
    checkpoint = verified.checkpoint
    verify_inclusion(leaf_hash(receipt.leaf), receipt.index, checkpoint.size, receipt.proof, checkpoint.root)
    return AuditEvent.from_leaf(receipt.leaf), verified
