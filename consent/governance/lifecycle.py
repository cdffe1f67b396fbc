"""The status of an approval at its source node: states and the one set of allowed transitions.

    REQUESTED --> APPROVED | DECLINED
    APPROVED <--> SUSPENDED
    APPROVED | SUSPENDED --> REVOKED
    DECLINED and REVOKED are terminal: nothing leaves them.
Only APPROVED lets a task run; SUSPENDED and REVOKED refuse at the next message (`APPROVAL_REVOKED`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from consent.governance.errors import IllegalApprovalTransition


class ApprovalStatus(StrEnum):
    REQUESTED = "REQUESTED"
    APPROVED = "APPROVED"
    DECLINED = "DECLINED"
    SUSPENDED = "SUSPENDED"
    REVOKED = "REVOKED"


ALLOWED_TRANSITIONS: frozenset[tuple[ApprovalStatus, ApprovalStatus]] = frozenset({
    (ApprovalStatus.REQUESTED, ApprovalStatus.APPROVED),
    (ApprovalStatus.REQUESTED, ApprovalStatus.DECLINED),
    (ApprovalStatus.APPROVED, ApprovalStatus.SUSPENDED),
    (ApprovalStatus.SUSPENDED, ApprovalStatus.APPROVED),
    (ApprovalStatus.APPROVED, ApprovalStatus.REVOKED),
    (ApprovalStatus.SUSPENDED, ApprovalStatus.REVOKED),
})
TERMINAL: frozenset[ApprovalStatus] = frozenset({ApprovalStatus.DECLINED, ApprovalStatus.REVOKED})


def check_transition(current: ApprovalStatus, wanted: ApprovalStatus) -> None:
    """Raise `IllegalApprovalTransition` unless (current, wanted) is an allowed pair."""
    if (ApprovalStatus(current), ApprovalStatus(wanted)) not in ALLOWED_TRANSITIONS:
        raise IllegalApprovalTransition(str(current), str(wanted))


@dataclass(frozen=True)
class ApprovalTransition:
    """One recorded status change; `source` is None for the arrival of a request."""

    approval_id: str
    source: ApprovalStatus | None
    target: ApprovalStatus
    actor: str
    reason: str
    at: datetime
