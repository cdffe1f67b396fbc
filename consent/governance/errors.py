"""The error catalogue of data governance: the refusal codes a source node gives, and the typed errors."""

from __future__ import annotations

from enum import StrEnum

from errors import Conflict, IntegrityFailure, InvalidInput, NotFound, Refused, XydError


class RefusalCode(StrEnum):
    """Why a source node refused a task; each value is a stable code the job state and the CLI show."""

    APPROVAL_MISSING = "APPROVAL_MISSING"  # no approval (or none with a valid signature) covers the task
    ITEM_NOT_APPROVED = "ITEM_NOT_APPROVED"  # a data item the task asked for is not in the approval
    ITEM_NOT_SHARED = "ITEM_NOT_SHARED"  # a data item the task asked for is `not_shared` (or not catalogued)
    APPROVAL_EXPIRED = "APPROVAL_EXPIRED"  # outside the approval's validity period
    APPROVAL_REVOKED = "APPROVAL_REVOKED"  # revoked or suspended by the source unit
    COUNTERPARTY_NOT_APPROVED = "COUNTERPARTY_NOT_APPROVED"  # a party or institution the approval does not name
    ALGORITHM_NOT_APPROVED = "ALGORITHM_NOT_APPROVED"  # algorithm not approved, or its key below the minimum
    QUOTA_EXCEEDED = "QUOTA_EXCEEDED"  # the approval's row or query quota would be exceeded
    LEADER_NOT_APPROVED = "LEADER_NOT_APPROVED"  # the job is led by anyone but the platform the approval names


class GovernanceError(XydError):
    """Base class of every error raised by consent.governance."""


class ApprovalRefused(GovernanceError, Refused):
    """A task the source node will not run; `code` is public, `detail` is for the node's log and operator."""

    def __init__(self, code: RefusalCode, detail: str = "") -> None:
        refusal = RefusalCode(code)
        # The refusal code is public; the detail (which approval, which item) goes to the node's log only.
        super().__init__(f"{refusal.value}: {detail}" if detail else refusal.value, code=refusal.value,
                         public="refused under the source unit's data-use approvals")
        self.code = refusal
        self.detail = detail


class CatalogueError(GovernanceError, InvalidInput):
    """A catalogue declaration is malformed: unknown category, bad condition, duplicate item."""


class InvalidApproval(GovernanceError, InvalidInput):
    """An approval artefact or request does not parse or breaks a rule of its shape."""


class BadApprovalSignature(GovernanceError, IntegrityFailure):
    """An approval's signature does not verify with the source unit's approval key (tampered or foreign)."""


class UnknownApproval(GovernanceError, NotFound):
    """No approval or request with this id in the store."""


class IllegalApprovalTransition(GovernanceError, Conflict):
    """A status change outside the allowed set (e.g. anything out of REVOKED or DECLINED)."""

    def __init__(self, current: str, wanted: str) -> None:
        super().__init__(f"an approval cannot go from {current} to {wanted}")
        self.current, self.wanted = current, wanted


class StaleApprovalStatus(GovernanceError, Conflict):
    """Another writer changed the approval's status between the read and the write."""
