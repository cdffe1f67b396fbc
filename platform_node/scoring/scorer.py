"""The scoring interface between the bank API and whatever computes scores (federated or local).

A `Scorer` answers, for every credit code it is given and in the same order, either a `ScoreOutcome` or a
`ScoreFailure`. It never answers a silent wrong score.

Partial-failure policy (what a scorer does when a source node is slow or dead):

* `PartialFailurePolicy.FAIL_ENTERPRISE` (the default): an enterprise whose score needs the part of a source
  that did not answer within `deadline_s` gets `ScoreFailure(SOURCE_UNAVAILABLE, failed_sources=...)`. In a
  batch, every enterprise is decided on its own: a source that dies half-way fails only the enterprises whose
  parts had not arrived; the others are scored normally.
* `PartialFailurePolicy.SCORE_DEGRADED`: the scorer may score without the missing parties, replacing each
  missing party's contribution by the model's documented neutral value (for a vertical LR or a scorecard: the
  party's training mean of its contribution; for SecureBoost: each split the missing party owns sends every
  row down its learned default (missing-value) direction, as if the party held no value). The outcome then
  carries `degraded=True`, `missing_sources` and `missing_importance` (the missing parties' share of the
  model's importance: split gain, or the parties' training spreads); the API shows them to the bank, stores the
  first two with the use record, and never takes a degraded score as a monitoring baseline. Federated scorers
  decide per purpose (`availability.AvailabilityPolicy`: refuse, degrade, degrade below an importance share).

An enterprise that no reachable source knows gets `UNKNOWN_ENTERPRISE` only when every source answered; if a
source failed, the answer is `SOURCE_UNAVAILABLE` (the missing source might have known it).

Reason codes are data-category names (`tax`, `court_records`, ...), never values: `ScoreOutcome` refuses
anything that is not a lowercase category token. `reasons` (SecureBoost, vertical LR) go further, as a loan officer needs:
each names the data item from the source unit's published catalogue (its public description, never a value
or threshold) with the direction it moved the risk, ordered by contribution; a unit whose approval does not
let its items be named appears by category only, and a missing source is flagged.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from errors import XydError
from models.scorecard.grades import DEFAULT_GRADES

_CATEGORY = re.compile(r"[a-z][a-z0-9_]{0,63}")
_GRADE = re.compile(r"[A-Z][A-Z0-9+-]{0,7}")
_MODEL_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_SOURCE = re.compile(r"[a-z][a-z0-9]*/[a-z0-9][a-z0-9._-]*")
_ITEM = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_SNAPSHOT = re.compile(r"[0-9a-f]{1,64}")
MAX_REASON_CODES = 8
MAX_DESCRIPTION = 500


class Direction(StrEnum):
    """How a reason moved the risk: its data raised or lowered it, or its source did not answer."""

    RAISES_RISK = "raises_risk"
    LOWERS_RISK = "lowers_risk"
    SOURCE_MISSING = "source_missing"


@dataclass(frozen=True)
class ScoreReason:
    """One reason for a score: whose data (`source`, its `category`), which catalogue item and its public
    description (both empty when the unit's approval does not let its items be named), and the direction."""

    source: str
    category: str
    item: str
    description: str
    direction: Direction

    def __post_init__(self) -> None:
        object.__setattr__(self, "direction", Direction(self.direction))
        if not (_SOURCE.fullmatch(self.source) and _CATEGORY.fullmatch(self.category)):
            raise ScorerContractError("a reason names a kind/name source and a category token")
        if self.item and not _ITEM.fullmatch(self.item):
            raise ScorerContractError("a reason's item is a catalogue item name")
        if not isinstance(self.description, str) or len(self.description) > MAX_DESCRIPTION \
                or not self.description.isprintable() or bool(self.description) != bool(self.item):
            raise ScorerContractError("a named item has a printable public description, an unnamed one none")


def grade_of(score: int) -> str:
    """The rating band of a score (the bands every model shares)."""
    return DEFAULT_GRADES.grade(score)


class FailureCode(StrEnum):
    """Why one enterprise has no score."""

    UNKNOWN_ENTERPRISE = "UNKNOWN_ENTERPRISE"
    SOURCE_UNAVAILABLE = "SOURCE_UNAVAILABLE"
    DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"
    MODEL_UNAVAILABLE = "MODEL_UNAVAILABLE"
    SCORER_ERROR = "SCORER_ERROR"


class PartialFailurePolicy(StrEnum):
    """What a scorer does when a source's part is missing (see the module docstring)."""

    FAIL_ENTERPRISE = "FAIL_ENTERPRISE"
    SCORE_DEGRADED = "SCORE_DEGRADED"


class ScorerContractError(XydError):
    """A scorer answered something the interface forbids (wrong count, order, or shape)."""


def _check_sources(sources: tuple[str, ...], what: str) -> None:
    for source in sources:
        if not isinstance(source, str) or not _SOURCE.fullmatch(source):
            raise ScorerContractError(f"{what}: {source!r} is not a kind/name source identity")


@dataclass(frozen=True)
class ScoreOutcome:
    """A score for one enterprise. `score` is in scorecard points; `grade` a rating band such as `AA`."""

    credit_code: str
    probability_of_default: float
    score: int
    grade: str
    reason_codes: tuple[str, ...]
    model_id: str
    model_version: str
    degraded: bool = False
    missing_sources: tuple[str, ...] = ()
    missing_importance: float = 0.0  # the missing sources' share of the model's split gain, in [0, 1]
    reasons: tuple[ScoreReason, ...] = ()
    # (party, snapshot id) of every party whose data the score used, one each (docs/protocols/private-scoring.md)
    snapshots: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "snapshots", tuple(sorted(self.snapshots)))
        parties = [p for p, _ in self.snapshots]
        _check_sources(tuple(parties), "snapshots")
        if len(set(parties)) != len(parties) or not all(_SNAPSHOT.fullmatch(s) for _, s in self.snapshots):
            raise ScorerContractError("snapshots name each party once, with a hex snapshot id")
        share = self.missing_importance
        if not isinstance(share, float) or not 0.0 <= share <= 1.0 or (share > 0 and not self.degraded):
            raise ScorerContractError("missing_importance is a share in [0, 1], and 0 unless degraded")
        pd = self.probability_of_default
        if not isinstance(pd, float) or not math.isfinite(pd) or not 0.0 <= pd <= 1.0:
            raise ScorerContractError(f"probability of default {pd!r} is not a float in [0, 1]")
        if not isinstance(self.score, int) or isinstance(self.score, bool):
            raise ScorerContractError("score must be an integer")
        if not _GRADE.fullmatch(self.grade):
            raise ScorerContractError(f"grade {self.grade!r} is not a rating token")
        object.__setattr__(self, "reason_codes", tuple(self.reason_codes))
        if len(self.reason_codes) > MAX_REASON_CODES or len(set(self.reason_codes)) != len(self.reason_codes):
            raise ScorerContractError(f"at most {MAX_REASON_CODES} distinct reason codes")
        for code in self.reason_codes:
            if not isinstance(code, str) or not _CATEGORY.fullmatch(code):
                raise ScorerContractError("reason codes must be data-category names, never values")
        for name in ("model_id", "model_version"):
            if not _MODEL_TOKEN.fullmatch(getattr(self, name)):
                raise ScorerContractError(f"{name} {getattr(self, name)!r} is not a token")
        object.__setattr__(self, "reasons", tuple(self.reasons))
        if len(self.reasons) > 2 * MAX_REASON_CODES or not all(isinstance(r, ScoreReason) for r in self.reasons):
            raise ScorerContractError(f"at most {2 * MAX_REASON_CODES} ScoreReason")
        object.__setattr__(self, "missing_sources", tuple(sorted(self.missing_sources)))
        _check_sources(self.missing_sources, "missing_sources")
        if self.degraded != bool(self.missing_sources):
            raise ScorerContractError("a degraded outcome names its missing sources, and only a degraded one")


@dataclass(frozen=True)
class ScoreFailure:
    """No score for one enterprise. `message` is public text and must never carry a value."""

    credit_code: str
    code: FailureCode
    message: str
    failed_sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "code", FailureCode(self.code))
        object.__setattr__(self, "failed_sources", tuple(sorted(self.failed_sources)))
        _check_sources(self.failed_sources, "failed_sources")
        if self.code is FailureCode.SOURCE_UNAVAILABLE and not self.failed_sources:
            raise ScorerContractError("SOURCE_UNAVAILABLE must name the failed sources")


def held_by_nobody(credit_code: str, missing: Sequence[str]) -> ScoreFailure:
    """The failure for an enterprise no answering party holds: unknown to the federation, or unavailable when
    a party that might hold it did not answer."""
    if not missing:
        return ScoreFailure(credit_code, FailureCode.UNKNOWN_ENTERPRISE,
                            "no party of the federation holds data on this enterprise")
    return ScoreFailure(credit_code, FailureCode.SOURCE_UNAVAILABLE, "no answering party holds data on this enterprise",
                        failed_sources=tuple(missing))


ScoreResult = ScoreOutcome | ScoreFailure


@dataclass(frozen=True)
class ScoreBatch:
    """One result per requested credit code, in request order."""

    results: tuple[ScoreResult, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "results", tuple(self.results))

    def __iter__(self) -> Iterator[ScoreResult]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def outcomes(self) -> list[ScoreOutcome]:
        return [r for r in self.results if isinstance(r, ScoreOutcome)]

    def failures(self) -> list[ScoreFailure]:
        return [r for r in self.results if isinstance(r, ScoreFailure)]

    def check_answers(self, credit_codes: Sequence[str]) -> None:
        """Raise `ScorerContractError` unless there is exactly one result per code, in the same order."""
        if len(self.results) != len(credit_codes):
            raise ScorerContractError(f"{len(self.results)} results for {len(credit_codes)} credit codes")
        for position, (result, code) in enumerate(zip(self.results, credit_codes, strict=True)):
            if result.credit_code != code:
                raise ScorerContractError(f"result {position} answers another enterprise than was asked")


class Scorer(Protocol):
    """Scores enterprises with the published joint model.

    Preconditions: every credit code is valid (the API checks) and distinct; `purpose` is a `Purpose` value;
    `deadline_s` bounds the wait for each source node; `requester` is the institution that asked (kind/slug),
    which each source node's approval must name. Must answer one result per code, in order.
    """

    def score(self, credit_codes: Sequence[str], *, purpose: str, deadline_s: float, requester: str = ""
              ) -> ScoreBatch: ...
