"""The one decision a source node makes before any task touches its data: `ApprovalPolicy.check(task)`.

The node decides from its OWN store of approvals and its own catalogue; from the task it takes only what
identifies the request (project or approval id, who leads, who else takes part, which algorithm and key
size, which items, how many rows or answers). Checks, in order, each refusing with its code:

 1. the leader is a platform                                   LEADER_NOT_APPROVED
 2. an approval of this project (or the named one) exists      APPROVAL_MISSING
 3. its signature verifies with the unit's approval key        APPROVAL_MISSING
 4. it is APPROVED (not REQUESTED/DECLINED; not SUSPENDED/REVOKED)   APPROVAL_MISSING / APPROVAL_REVOKED
 5. now is within [not_before, not_after)                      APPROVAL_EXPIRED
 6. the leader is the one the approval names                   LEADER_NOT_APPROVED
 7. every other party is a named counterparty                  COUNTERPARTY_NOT_APPROVED
 8. the algorithm is approved, with at least its key size      ALGORITHM_NOT_APPROVED
 9. every item asked for is shared and, if conditional, approved   ITEM_NOT_SHARED / ITEM_NOT_APPROVED
10. for answers to institutions: the institution (or its kind) is named   COUNTERPARTY_NOT_APPROVED
11. the rows or answers fit the quota (counted here, atomically)   QUOTA_EXCEEDED
A refusal counts nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from consent.governance.approval import ApprovalTerms
from consent.governance.catalogue import Catalogue, SharingCondition
from consent.governance.errors import (
    ApprovalRefused,
    BadApprovalSignature,
    InvalidApproval,
    RefusalCode,
    UnknownApproval,
)
from consent.governance.lifecycle import ApprovalStatus
from consent.governance.store import ApprovalRecord, ApprovalStore


class TaskKind(StrEnum):
    """What a task does with the node's data."""

    PSI = "psi"
    BINNING = "binning"
    TRAIN = "train"
    EVALUATE = "evaluate"
    PUBLISH = "publish"
    SCORE = "score"  # online scoring with a published model
    VERIFY = "verify"  # answering a verification (核验)


ANSWERS = frozenset({TaskKind.SCORE, TaskKind.VERIFY})


@dataclass(frozen=True)
class Task:
    """A request to use the node's data. `items=None` asks for every item the approval lets the task use."""

    kind: TaskKind
    leader: str
    algorithm: str
    project: str | None = None
    approval_id: str | None = None
    counterparties: tuple[str, ...] = ()
    key_bits: int = 0
    items: tuple[str, ...] | None = None
    rows: int = 0
    queries: int = 0
    institution: str | None = None
    institution_kind: str | None = None


@dataclass(frozen=True)
class Approval:
    """A task's admission: the approval it runs under and the items it may load (nothing else)."""

    approval_id: str
    terms: ApprovalTerms
    items: tuple[str, ...]


class QuotaMeter(Protocol):
    def consume(self, approval_id: str, kind: str, amount: int, limit: int) -> int: ...


def usable_items(terms: ApprovalTerms, catalogue: Catalogue, asked: Sequence[str] | None) -> tuple[str, ...]:
    """The items a task may load: `asked` if every one is allowed, else a refusal; all allowed ones if None.

    Allowed: unconditional items, and conditional items the approval names. Never: not_shared or
    uncatalogued items.
    """
    if asked is None:
        return tuple(i.name for i in catalogue.items if i.condition is SharingCondition.UNCONDITIONAL
                     or (i.condition is SharingCondition.CONDITIONAL and i.name in terms.items))
    for name in asked:
        condition = catalogue.condition_of(name)
        if condition is SharingCondition.NOT_SHARED:
            raise ApprovalRefused(RefusalCode.ITEM_NOT_SHARED, f"item {name} is not shared")
        if condition is SharingCondition.CONDITIONAL and name not in terms.items:
            raise ApprovalRefused(RefusalCode.ITEM_NOT_APPROVED, f"item {name} is not in approval "
                                                                  f"{terms.approval_id}")
    return tuple(dict.fromkeys(asked))


def utc_now() -> datetime:
    return datetime.now(UTC)


class ApprovalPolicy:
    """Admits tasks under the approvals of one source node's store. `catalogue()` is read at every check, so an
    accepted expansion or a changed condition applies to the next task."""

    def __init__(self, store: ApprovalStore, catalogue: Callable[[], Catalogue], *,
                 clock: Callable[[], datetime] = utc_now, meter: QuotaMeter | None = None) -> None:
        self.store = store
        self._catalogue = catalogue
        self._clock = clock
        self._meter = meter or store

    def check(self, task: Task, *, now: datetime | None = None) -> Approval:
        """The approval `task` runs under; raises `ApprovalRefused(code)`. Counts the task's rows/answers."""
        now = self._clock() if now is None else now
        if not task.leader.startswith("platform/"):
            raise ApprovalRefused(RefusalCode.LEADER_NOT_APPROVED, f"{task.leader} may not lead: only the platform")
        candidates = self._candidates(task)
        approved = [r for r in candidates if r.status is ApprovalStatus.APPROVED]
        if not approved:
            if any(r.status in (ApprovalStatus.SUSPENDED, ApprovalStatus.REVOKED) for r in candidates):
                raise ApprovalRefused(RefusalCode.APPROVAL_REVOKED, "the approval is suspended or revoked")
            raise ApprovalRefused(RefusalCode.APPROVAL_MISSING, "no approval of this use was given")
        refusal: ApprovalRefused | None = None
        for record in reversed(approved):  # newest first
            try:
                return self._admit(task, record, now)
            except ApprovalRefused as exc:
                refusal = refusal or exc
                if exc.code is RefusalCode.QUOTA_EXCEEDED:
                    raise
        assert refusal is not None
        raise refusal

    def decide(self, task: Task, *, now: datetime | None = None) -> Approval:
        """`check` without counting anything (the caller counts through its own meter)."""
        return self.check(_uncounted(task), now=now)

    def _candidates(self, task: Task) -> list[ApprovalRecord]:
        if task.approval_id is not None:
            try:
                return [self.store.get(task.approval_id)]
            except (UnknownApproval, InvalidApproval):
                return []
        if task.project is None:
            if task.kind is TaskKind.VERIFY:  # verifications name no project: any approval of the service
                try:
                    return [r for r in self.store.list() if task.algorithm in r.terms.algorithms]
                except InvalidApproval:
                    return []
            raise ApprovalRefused(RefusalCode.APPROVAL_MISSING, "the task names no project")
        try:
            return self.store.list(project=task.project)
        except InvalidApproval:
            return []

    def _admit(self, task: Task, record: ApprovalRecord, now: datetime) -> Approval:
        terms = self.verified_terms(record)
        if task.project is not None and terms.project != task.project:
            raise ApprovalRefused(RefusalCode.APPROVAL_MISSING, f"{record.approval_id} is for another project")
        if not terms.valid_at(now):
            raise ApprovalRefused(RefusalCode.APPROVAL_EXPIRED, f"{record.approval_id} is valid "
                                  f"{terms.not_before.isoformat()} to {terms.not_after.isoformat()}")
        if task.leader != terms.leader:
            raise ApprovalRefused(RefusalCode.LEADER_NOT_APPROVED, f"{task.leader} is not the leader "
                                                                   f"{record.approval_id} names")
        stranger = sorted(set(task.counterparties) - set(terms.counterparties) - {terms.source})
        if stranger:
            raise ApprovalRefused(RefusalCode.COUNTERPARTY_NOT_APPROVED, f"not approved: {', '.join(stranger)}")
        minimum = terms.algorithms.get(task.algorithm)
        if minimum is None or task.key_bits < minimum:
            raise ApprovalRefused(RefusalCode.ALGORITHM_NOT_APPROVED,
                                  f"{task.algorithm} with {task.key_bits}-bit keys is not approved")
        items = usable_items(terms, self._catalogue(), task.items)
        if task.kind in ANSWERS:
            institution, kind = task.institution or "", task.institution_kind or ""
            named = institution in terms.serving.institutions or kind in terms.serving.institution_kinds
            online = terms.serving.online or task.kind is TaskKind.VERIFY
            if not (online and named):
                raise ApprovalRefused(RefusalCode.COUNTERPARTY_NOT_APPROVED,
                                      f"answers to {institution or 'this institution'} are not approved")
        for kind, amount, limit in (("rows", task.rows, terms.quotas.rows),
                                    ("queries", task.queries, terms.quotas.queries)):
            if amount:
                self._meter.consume(record.approval_id, kind, amount, limit)
        return Approval(record.approval_id, terms, items)

    def verified_terms(self, record: ApprovalRecord) -> ApprovalTerms:
        """The terms as the administrator signed them (never the stored copy), or APPROVAL_MISSING."""
        if record.signed is None:
            raise ApprovalRefused(RefusalCode.APPROVAL_MISSING, f"{record.approval_id} was never signed")
        try:
            terms = record.signed.verify_with(self.store.approval_key)
        except (BadApprovalSignature, InvalidApproval) as exc:
            raise ApprovalRefused(RefusalCode.APPROVAL_MISSING, f"{record.approval_id}: {exc}") from None
        if terms.approval_id != record.approval_id or terms.source != self.store.source:
            raise ApprovalRefused(RefusalCode.APPROVAL_MISSING, f"{record.approval_id}: signed terms differ")
        return terms

    def recheck(self, approval: Approval, *, now: datetime | None = None) -> None:
        """Between rounds of a running task: still APPROVED and within its window, or the refusal."""
        now = self._clock() if now is None else now
        try:
            status = self.store.get(approval.approval_id).status
        except (UnknownApproval, InvalidApproval):
            raise ApprovalRefused(RefusalCode.APPROVAL_MISSING, f"{approval.approval_id} is gone") from None
        if status is not ApprovalStatus.APPROVED:
            raise ApprovalRefused(RefusalCode.APPROVAL_REVOKED, f"{approval.approval_id} is {status.value}")
        if not approval.terms.valid_at(now):
            raise ApprovalRefused(RefusalCode.APPROVAL_EXPIRED, f"{approval.approval_id} has expired")


def _uncounted(task: Task) -> Task:
    return replace(task, rows=0, queries=0)
