"""The root cause of a failed stage: which party failed first and why, and whether resuming can help.

When one party fails, the coordinator cancels the others, and their peers then fail too ("peer X
unavailable", "cancelled"). Those are consequences: the stage's error names the party that started it and
that party's own reason, never "Cancelling all calls", and lists consequences only when nothing else is
known.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# The party's task stream broke (the node died, restarted or became unreachable).
LOST = "LOST"
# The coordinator cancelled the party's task after another party failed (or on an operator's cancel).
CANCELLED = "CANCELLED"
# Failures a resumption can cure: a party (or the link to it) was away; nothing is wrong with the job.
TRANSIENT = frozenset({LOST, "PEER_UNAVAILABLE", "PEER_TIMEOUT", "STAGE_BUSY", "STAGE_CLOSED"})
# Failures that only follow from another party's failure.
CONSEQUENCES = frozenset({CANCELLED, "STAGE_CLOSED"})
# Codes a party reports when a peer it names failed it.
PEER_CODES = frozenset({"PEER_UNAVAILABLE", "PEER_TIMEOUT", "PEER_FAILURE"})


@dataclass(frozen=True)
class PartyOutcome:
    """How one party's task of a stage ended: a result, or an error code with its message."""

    party: str
    result: dict[str, Any] | None = None
    code: str = ""
    message: str = ""
    peer: str = ""  # the party the error is about, when the party names one

    @property
    def failed(self) -> bool:
        return self.result is None


@dataclass(frozen=True)
class StageFailure:
    """The stage's error text (root cause first) and whether resuming the stage may cure it."""

    reason: str
    transient: bool
    culprits: tuple[str, ...]


def _describe(outcome: PartyOutcome) -> str:
    if outcome.code == LOST:
        return f"{outcome.party}: stopped answering during the task ({outcome.message})"
    if outcome.code == CANCELLED:
        return f"{outcome.party}: cancelled"
    return f"{outcome.party}: {outcome.code}: {outcome.message}"


def root_cause(outcomes: Iterable[PartyOutcome]) -> StageFailure:
    """The failure of a stage from every party's outcome (at least one failed)."""
    failed = [o for o in outcomes if o.failed]
    if not failed:
        raise ValueError("no party failed")
    by_party = {o.party: o for o in failed}

    def original(o: PartyOutcome) -> bool:
        """A failure of its own, not one caused by a failed peer or by the coordinator's cancel."""
        if o.code in CONSEQUENCES:
            return False
        if o.code in PEER_CODES and o.peer in by_party:
            cause = by_party[o.peer]
            return cause.code in PEER_CODES or cause.code in CONSEQUENCES  # both blame each other: a link
        return True

    primary = [o for o in failed if original(o)] or [o for o in failed if o.code != CANCELLED] or failed
    # The lost parties first, then failures of the job itself, then links between parties.
    primary.sort(key=lambda o: (o.code != LOST, o.code in PEER_CODES, o.party))
    return StageFailure("; ".join(_describe(o) for o in primary), all(o.code in TRANSIENT for o in primary),
                        tuple(o.party for o in primary))
