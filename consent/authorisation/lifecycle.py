"""The status lifecycle of an authorisation: states, the one set of allowed transitions, transition records.

    PENDING --> ACTIVE | REJECTED
    ACTIVE <--> PAUSED
    ACTIVE | PAUSED --> REVOKED | EXPIRED
    REJECTED, REVOKED, EXPIRED are terminal: nothing leaves them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from consent.authorisation.codec import utc_seconds
from consent.authorisation.errors import IllegalTransition, InvalidTerms

_ACTOR = re.compile(r"^[a-z][a-z0-9]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


class Status(StrEnum):
    """Where an authorisation stands; only ACTIVE allows a use."""

    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    REJECTED = "REJECTED"
    PAUSED = "PAUSED"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"


ALLOWED_TRANSITIONS: frozenset[tuple[Status, Status]] = frozenset(
    {
        (Status.PENDING, Status.ACTIVE),
        (Status.PENDING, Status.REJECTED),
        (Status.ACTIVE, Status.PAUSED),
        (Status.PAUSED, Status.ACTIVE),
        (Status.ACTIVE, Status.REVOKED),
        (Status.PAUSED, Status.REVOKED),
        (Status.ACTIVE, Status.EXPIRED),
        (Status.PAUSED, Status.EXPIRED),
    }
)

TERMINAL: frozenset[Status] = frozenset({Status.REJECTED, Status.REVOKED, Status.EXPIRED})


class TransitionReason(StrEnum):
    """Why a status changed; recorded with every transition."""

    SUBMITTED = "SUBMITTED"
    IDENTITY_CONFIRMED = "IDENTITY_CONFIRMED"
    IDENTITY_CHECK_FAILED = "IDENTITY_CHECK_FAILED"
    ENTERPRISE_APPROVED = "ENTERPRISE_APPROVED"
    ENTERPRISE_DECLINED = "ENTERPRISE_DECLINED"
    ENTERPRISE_PAUSED = "ENTERPRISE_PAUSED"
    ENTERPRISE_RESUMED = "ENTERPRISE_RESUMED"
    ENTERPRISE_REVOKED = "ENTERPRISE_REVOKED"
    COMPLIANCE_HOLD = "COMPLIANCE_HOLD"
    COMPLIANCE_RELEASE = "COMPLIANCE_RELEASE"
    COMPLIANCE_REVOKED = "COMPLIANCE_REVOKED"
    KEY_COMPROMISED = "KEY_COMPROMISED"
    WINDOW_ENDED = "WINDOW_ENDED"


def check_transition(source: Status, target: Status) -> None:
    """Raise `IllegalTransition` unless (source, target) is in `ALLOWED_TRANSITIONS`."""
    if (Status(source), Status(target)) not in ALLOWED_TRANSITIONS:
        raise IllegalTransition(Status(source).value, Status(target).value)


@dataclass(frozen=True)
class Transition:
    """One recorded status change. `source` is None for the artefact's arrival (-> PENDING)."""

    authorisation_id: str
    source: Status | None
    target: Status
    actor: str
    reason: TransitionReason
    at: datetime

    def __post_init__(self) -> None:
        if not isinstance(self.actor, str) or not _ACTOR.match(self.actor):
            raise InvalidTerms(f"actor {self.actor!r} is not a kind/name identity")
        object.__setattr__(self, "target", Status(self.target))
        object.__setattr__(self, "reason", TransitionReason(self.reason))
        if self.source is not None:
            object.__setattr__(self, "source", Status(self.source))
        elif self.target is not Status.PENDING:
            raise InvalidTerms("only the arrival transition (-> PENDING) has no source state")
        object.__setattr__(self, "at", utc_seconds(self.at))
