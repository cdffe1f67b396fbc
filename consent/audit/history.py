"""Is the stored log the history everyone else saw? Verify a log against the checkpoints held outside it.

The log's database is in the hands of its operator, so its own checkpoints prove nothing about deletions: an
operator who deletes the newest rows and checkpoints and rewrites the head leaves a smaller log that agrees
with itself. What it cannot rewrite are the signed checkpoints others hold: each witness's latest cosigned
checkpoint, the checkpoints in banks' inclusion receipts, and the compliance officer's own copy of the last
checkpoint it verified. `verify_history` recomputes the stored log once and proves that it extends every one
of them, reporting what it found as a typed error:

- `LogTamperedError`: rows disagree with themselves or with a checkpoint the log itself signed (a rewritten,
  deleted or reordered row);
- `LogTruncatedError`: a witness, a receipt or the log's own checkpoint is larger than the stored log;
- `LogRolledBackError`: the officer's last verified checkpoint is larger than the stored log;
- `LogForkedError`: the stored log has the size of a held checkpoint with another root, or no consistency
  proof leads from it to the stored head (a history re-signed with the log key);
- `WitnessesUnavailableError`: fewer witnesses answered than the quorum, so truncation is not ruled out.

Nothing here talks to the network: the caller fetches the witnesses' answers (any log with checkpoints and
witnesses works the same way).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from consent.audit.checkpoint import VerifiedCheckpoint, verify_checkpoint
from consent.audit.cosignature import CosignatureVerifier
from consent.audit.errors import (
    LogForkedError,
    LogRolledBackError,
    LogTamperedError,
    LogTruncatedError,
    QuorumError,
    SignatureError,
    WitnessesUnavailableError,
)
from consent.audit.integrity import verify_log_rows
from consent.audit.log import AuditLog, TreeHead
from consent.audit.note import Ed25519Verifier
from consent.audit.receipts import InclusionReceipt, verify_receipt
from consent.merkle import EMPTY_ROOT, ProofError, verify_consistency


@dataclass(frozen=True)
class LogTrust:
    """What a verifier needs to accept a log's checkpoints: the log key, witness keys, the quorum."""

    log: Ed25519Verifier
    witnesses: tuple[CosignatureVerifier, ...] = ()
    quorum: int = 0

    def witness(self, name: str) -> CosignatureVerifier:
        """The configured key of witness `name` (KeyError if it is not one of ours)."""
        for verifier in self.witnesses:
            if verifier.name == name:
                return verifier
        raise KeyError(f"{name} is not a configured witness")


class Holder(enum.Enum):
    """Who holds a checkpoint: the log's own database, or someone the log's operator cannot rewrite."""

    LOG = "the log's own checkpoint"
    WITNESS = "witness"
    RECEIPT = "receipt"
    SAVED = "saved checkpoint"
    OFFICER = "the officer's last verified checkpoint"


@dataclass(frozen=True)
class HeldCheckpoint:
    """A checkpoint whose log signature verified, and who holds it (`name`: a witness, a file)."""

    holder: Holder
    name: str
    verified: VerifiedCheckpoint

    @property
    def label(self) -> str:
        return self.holder.value if not self.name else f"{self.holder.value} {self.name}"


@dataclass(frozen=True)
class WitnessAnswer:
    """What one witness said when asked for its latest cosigned checkpoint: a note (None: it has cosigned
    nothing for this log yet), or `failure` when it could not be asked (unreachable, refused)."""

    name: str
    note: str | None = None
    failure: str | None = None


@dataclass(frozen=True)
class HistoryReport:
    """A verified history: the stored head, how many rows were recomputed, every checkpoint proven to be a
    prefix of the head (the log's own and those held outside), and the witnesses that did not answer."""

    head: TreeHead
    rows_checked: int
    stored: tuple[HeldCheckpoint, ...]
    held: tuple[HeldCheckpoint, ...]
    witnesses_asked: bool
    unanswered: tuple[tuple[str, str], ...]

    @property
    def newest(self) -> VerifiedCheckpoint | None:
        """The largest checkpoint verified (most cosigners among equals): what a verifier keeps for next time."""
        candidates = [h.verified for h in (*self.stored, *self.held)]
        if not candidates:
            return None
        return max(candidates, key=lambda v: (v.checkpoint.size, len(v.cosigners)))


def prove_extends(log: AuditLog, head: TreeHead, held: HeldCheckpoint) -> None:
    """Prove the stored log (whose head is `head`) extends `held`; raise the typed error saying how not."""
    checkpoint = held.verified.checkpoint
    facts = {"holder": held.label, "trusted_size": checkpoint.size, "trusted_root": checkpoint.root,
             "stored_size": head.size, "stored_root": head.root}
    if checkpoint.size > head.size:
        if held.holder is Holder.OFFICER:
            raise LogRolledBackError("the log was rolled back", **facts)
        raise LogTruncatedError("the log was truncated", **facts)
    if checkpoint.size == head.size or checkpoint.size == 0:
        expected = head.root if checkpoint.size == head.size else EMPTY_ROOT
        if checkpoint.root != expected:
            _forked(held, facts, None)
        return
    proof = log.consistency_proof(checkpoint.size, head.size)
    try:
        verify_consistency(checkpoint.size, head.size, checkpoint.root, head.root, proof)
    except ProofError as error:
        _forked(held, facts, error)


def _forked(held: HeldCheckpoint, facts: dict[str, Any], cause: ProofError | None) -> None:
    if held.holder is Holder.LOG:  # the log contradicts its own signature: its rows were rewritten
        raise LogTamperedError(f"the stored log does not extend its own checkpoint of size {facts['trusted_size']}")
    error = LogForkedError("the log was forked", **facts)
    raise error from cause


def verify_history(
    log: AuditLog,
    trust: LogTrust,
    *,
    witness_answers: Sequence[WitnessAnswer] | None,
    receipts: Sequence[tuple[str, InclusionReceipt]] = (),
    saved: Sequence[tuple[str, str]] = (),
    last_verified: str | None = None,
    check_rows: bool = True,
    now: datetime | None = None,
    max_age: timedelta | None = None,
) -> HistoryReport:
    """Verify the stored log against its own checkpoints and every checkpoint held outside it.

    `witness_answers` are the witnesses' latest cosigned checkpoints (None: the witnesses were not asked,
    which must be the caller's explicit choice); each must carry the log's signature and that witness's
    cosignature, no older than `max_age` at `now` when both are given, and at least `trust.quorum` witnesses
    must answer. `receipts` and `saved` are (name, receipt / note) pairs; `last_verified` is the note the
    verifier kept from its previous run. Everything held outside is read before the stored head, so a log
    that grows meanwhile still verifies.
    """
    stored = tuple(HeldCheckpoint(Holder.LOG, "", verify_checkpoint(note, trust.log, witnesses=trust.witnesses))
                   for note in log.checkpoints())
    witnessed, unanswered = _witness_checkpoints(trust, witness_answers or (), now=now, max_age=max_age)
    held = list(witnessed)
    for name, receipt in receipts:
        _, verified = verify_receipt(receipt, trust.log, witnesses=trust.witnesses)
        held.append(HeldCheckpoint(Holder.RECEIPT, name, verified))
    for name, note in saved:
        held.append(HeldCheckpoint(Holder.SAVED, name, verify_checkpoint(note, trust.log, witnesses=trust.witnesses)))
    if last_verified is not None:
        held.append(HeldCheckpoint(Holder.OFFICER, "", verify_checkpoint(last_verified, trust.log,
                                                                          witnesses=trust.witnesses)))
    # The stored rows first: a rewritten row is then reported as such whichever checkpoints exist, not as a
    # consistency proof that fails because it was built from that row.
    if check_rows:
        head = verify_log_rows(log, [s.verified.checkpoint for s in stored])
    else:
        try:
            head = log.tree_head()
        except ValueError as error:  # a frontier that does not fit the size
            raise LogTamperedError(f"the head row is malformed: {error}") from None
    for checkpoint in sorted(stored, key=lambda s: s.verified.checkpoint.size, reverse=True):
        prove_extends(log, head, checkpoint)
    for checkpoint in held:
        prove_extends(log, head, checkpoint)
    if stored:  # the newest publication must carry the witness quorum it was published with
        largest = max(stored, key=lambda s: s.verified.checkpoint.size)
        verify_checkpoint(largest.verified.note, trust.log, witnesses=trust.witnesses, quorum=trust.quorum)
    if witness_answers is not None:  # each witness counts once, however often it was asked
        answered = len({a.name for a in witness_answers} - {name for name, _ in unanswered})
        if answered < trust.quorum:
            raise WitnessesUnavailableError(trust.quorum, answered, tuple(unanswered))
    return HistoryReport(head, head.size if check_rows else 0, stored, tuple(held), witness_answers is not None,
                         tuple(unanswered))


def _witness_checkpoints(trust: LogTrust, answers: Sequence[WitnessAnswer], *, now: datetime | None,
                         max_age: timedelta | None) -> tuple[list[HeldCheckpoint], list[tuple[str, str]]]:
    """Verify each witness's answer: the log's signature and THAT witness's cosignature, fresh at `now`. A
    stale cosignature (an old answer replayed) counts as no answer; a bad or missing one rejects the run."""
    held, failures = [], []
    for answer in answers:
        if answer.failure is not None:
            failures.append((answer.name, answer.failure))
            continue
        if answer.note is None:
            continue
        witness = trust.witness(answer.name)
        try:
            verified = verify_checkpoint(answer.note, trust.log, witnesses=[witness], quorum=1, now=now,
                                         max_age=max_age)
        except QuorumError:
            try:
                verify_checkpoint(answer.note, trust.log, witnesses=[witness], quorum=1)
            except QuorumError as missing:
                raise SignatureError(f"the answer of witness {answer.name} is not cosigned with its configured "
                                     f"key") from missing
            failures.append((answer.name, f"its cosignature is older than {max_age} (an old answer replayed?)"))
            continue
        held.append(HeldCheckpoint(Holder.WITNESS, answer.name, verified))
    return held, failures
