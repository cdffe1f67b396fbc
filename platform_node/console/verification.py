"""The compliance officer's one-click check of a use's receipt and of the checkpoint chain, step by step.

Each step says what was checked and whether it held, in words a person reads: the latest checkpoint's
signature under the log's key, that the leaf holds what the database records for the use (the salted digest
of the served result is recomputed from the use row), the inclusion proof of the leaf in that checkpoint,
and the consistency proof between consecutive checkpoints (the last `CHAIN_LENGTH`), each signature checked.
These checks run on the platform against its own log; checking the log against the witnesses' cosigned
checkpoints, with the officer's own last verified checkpoint, is `xyd audit verify-chain` on the officer's
machine (the platform cannot vouch for itself).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from consent.audit import (
    AuditEvent,
    AuditLog,
    Checkpoint,
    Ed25519Verifier,
    EventKind,
    issue_receipt,
    parse_note,
    verify_checkpoint,
    verify_receipt,
)
from consent.merkle import verify_consistency
from errors import IntegrityFailure
from platform_node.scoring.scorer import ScoreOutcome
from platform_node.uses.records import UseKind, UseRecord, result_digest
from platform_node.uses.schema import uses

CHAIN_LENGTH = 100


@dataclass(frozen=True)
class Step:
    message_key: str
    values: dict[str, Any]
    ok: bool
    problem: str | None = None


@dataclass
class VerificationReport:
    steps: list[Step] = field(default_factory=list)
    pending: bool = False

    @property
    def ok(self) -> bool:
        return not self.pending and bool(self.steps) and all(s.ok for s in self.steps)

    def add(self, message_key: str, ok: bool, problem: str | None = None, **values: Any) -> bool:
        self.steps.append(Step(message_key, values, ok, problem))
        return ok


def _stored_digest(log: AuditLog, use: UseRecord) -> str | None:
    """The result digest recomputed from the use row and its nonce (scores only)."""
    if use.kind is not UseKind.SCORE:
        return None
    with log.engine.connect() as conn:
        nonce = conn.execute(select(uses.c.result_nonce).where(uses.c.id == use.id)).scalar_one()
    outcome = ScoreOutcome(use.credit_code, use.probability_of_default, use.score, use.grade, use.reason_codes,
                           use.model_id, use.model_version, use.degraded, use.missing_sources)
    return result_digest(use.id, outcome, use.loan_application_ref, bytes(nonce))


def verify_use(log: AuditLog, verifier: Ed25519Verifier, index: int, use: UseRecord | None) -> VerificationReport:
    """Check leaf `index` (the use's, when `use` is given) and the chain of the latest checkpoints."""
    report = VerificationReport()
    note = log.latest_checkpoint()
    if note is None or Checkpoint.from_body(parse_note(note).text).size <= index:
        report.pending = True
        return report
    try:
        verified = verify_checkpoint(note, verifier)
    except IntegrityFailure as exc:
        report.add("comp.verify.step.signature", False, type(exc).__name__, size="?", key=verifier.name)
        return report
    size = verified.checkpoint.size
    report.add("comp.verify.step.signature", True, size=size, key=verifier.name)
    receipt = issue_receipt(log, index, note)
    event = AuditEvent.from_leaf(receipt.leaf)
    if use is not None:
        expected_kind = EventKind.SCORE_SERVED if use.kind is UseKind.SCORE else EventKind.REQUEST_REFUSED
        digest = _stored_digest(log, use)
        same = (event.kind is expected_kind and event.use_id == use.id and event.institution == use.institution_id
                and (digest is None or dict(event.digests).get("result") == digest))
        report.add("comp.verify.step.leaf", same, None if same else "the leaf differs from the use record",
                   index=index, what=f"{event.kind.value}, {use.id}, {use.institution_id}")
    try:
        verify_receipt(receipt, verifier)
        report.add("comp.verify.step.inclusion", True, index=index, size=size, steps=len(receipt.proof),
                   root=verified.checkpoint.root.hex()[:16] + "…")
    except IntegrityFailure as exc:
        report.add("comp.verify.step.inclusion", False, type(exc).__name__, index=index, size=size,
                   steps=len(receipt.proof), root="?")
    chain = log.checkpoints()[-CHAIN_LENGTH:]
    previous: Checkpoint | None = None
    for chain_note in chain:
        try:
            current = verify_checkpoint(chain_note, verifier).checkpoint
        except IntegrityFailure as exc:
            report.add("comp.verify.step.chain_signature", False, type(exc).__name__, size="?")
            return report
        if previous is not None and previous.size > 0 and current.size > previous.size:
            proof = log.consistency_proof(previous.size, current.size)
            try:
                verify_consistency(previous.size, current.size, previous.root, current.root, proof)
                report.add("comp.verify.step.consistency", True, first=previous.size, second=current.size,
                           steps=len(proof))
            except IntegrityFailure as exc:
                report.add("comp.verify.step.consistency", False, type(exc).__name__, first=previous.size,
                           second=current.size, steps=len(proof))
        elif previous is not None and (current.size < previous.size or
                                       (current.size == previous.size and current.root != previous.root)):
            report.add("comp.verify.step.consistency", False, "a later checkpoint does not extend an earlier one",
                       first=previous.size, second=current.size, steps=0)
        previous = current
    return report
