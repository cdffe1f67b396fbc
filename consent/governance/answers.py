"""Admission on the answer path (online scores, verifications): the policy's decision cached per approval and
institution, and answers counted in memory against blocks of the quota taken from the store.

Every answer is still checked: the cache holds a decision only while its approval stays APPROVED (the store's
listener drops it at the status change, so a revocation or suspension refuses the very next answer) and
within its window (checked on every hit). Quotas stay exact: the gate never answers more than the quota,
because it answers only out of blocks already counted in the store; an unused block is given back when the
gate closes (a crash keeps it counted: the quota errs on the safe side).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from consent.governance.errors import ApprovalRefused, RefusalCode
from consent.governance.lifecycle import ApprovalStatus
from consent.governance.policy import Approval, ApprovalPolicy, Task, utc_now
from consent.governance.store import ApprovalStore


class LeasedQuota:
    """Counts `amount`s in memory out of blocks of up to `block` counted durably in the store."""

    def __init__(self, store: ApprovalStore, *, block: int = 1000) -> None:
        if block < 1:
            raise ValueError("block must be at least 1")
        self._store, self._block = store, block
        self._left: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def consume(self, approval_id: str, kind: str, amount: int, limit: int) -> int:
        """Count `amount`; raises `ApprovalRefused(QUOTA_EXCEEDED)` (counting nothing) if the quota is spent.
        Returns what is left of the block in hand."""
        key = (approval_id, kind)
        with self._lock:
            left = self._left.get(key, 0)
            if left < amount:
                need = amount - left
                try:
                    self._store.consume(approval_id, kind, max(need, self._block), limit)
                    left += max(need, self._block)
                except ApprovalRefused as exc:
                    if exc.code is not RefusalCode.QUOTA_EXCEEDED or need >= self._block:
                        raise
                    self._store.consume(approval_id, kind, need, limit)  # the last answers, exactly
                    left += need
            self._left[key] = left - amount
            return left - amount

    def release(self, approval_id: str | None = None) -> None:
        """Give back the unused blocks (of one approval, or all) to the store."""
        with self._lock:
            keys = [k for k in self._left if approval_id is None or k[0] == approval_id]
            returned = [(k, self._left.pop(k)) for k in keys]
        for (approval, kind), left in returned:
            if left:
                self._store.release(approval, kind, left)

    def in_hand(self, approval_id: str, kind: str) -> int:
        with self._lock:
            return self._left.get((approval_id, kind), 0)


class AnswerGate:
    """`admit(task)` for answers; decisions cached per (approval, institution, model items) until a status
    change of that approval."""

    def __init__(self, policy: ApprovalPolicy, *, block: int = 1000,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self._policy = policy
        self._quota = LeasedQuota(policy.store, block=block)
        self._clock = clock
        self._cache: dict[tuple, Approval] = {}
        self._generation: dict[str, int] = {}
        self._lock = threading.Lock()
        policy.store.add_listener(self._changed)

    def _changed(self, approval_id: str, status: ApprovalStatus) -> None:
        with self._lock:
            self._generation[approval_id] = self._generation.get(approval_id, 0) + 1
            for key in [k for k in self._cache if k[0] == approval_id]:
                del self._cache[key]
        if status is not ApprovalStatus.APPROVED:
            self._quota.release(approval_id)

    def invalidate(self) -> None:
        """Forget every cached decision (the catalogue changed)."""
        with self._lock:
            for approval_id in {k[0] for k in self._cache}:
                self._generation[approval_id] = self._generation.get(approval_id, 0) + 1
            self._cache.clear()

    def admit(self, task: Task, *, now: datetime | None = None) -> Approval:
        """The approval the answer is given under, its queries counted; or `ApprovalRefused`."""
        now = self._clock() if now is None else now
        key = (task.approval_id, task.kind, task.leader, task.algorithm, task.key_bits, task.items,
               task.institution, task.institution_kind)
        with self._lock:
            approval = self._cache.get(key)
            generation = self._generation.get(task.approval_id or "", 0)
        if approval is None or not approval.terms.valid_at(now):
            approval = self._policy.decide(task, now=now)
            with self._lock:
                if self._generation.get(task.approval_id or "", 0) == generation:
                    self._cache[key] = approval
        if task.queries:
            self._quota.consume(approval.approval_id, "queries", task.queries, approval.terms.quotas.queries)
        return approval

    def close(self) -> None:
        """Give back the quota blocks in hand."""
        self._quota.release()
