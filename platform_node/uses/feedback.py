"""Outcome feedback (用数成效反馈): the lending decision, then repayment outcomes, each an audit leaf.

State rules: a decision is given once; repayment outcomes need a GRANTED decision; DEFAULT is final. The
leaf names the use, the institution and the code (e.g. DECISION_GRANTED); amounts, rates and terms stay in
the database and enter the leaf only as a digest salted with a per-event nonce.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Engine, and_, insert, update

from consent.audit.events import AuditEvent, EventKind, keyed_ref
from consent.audit.log import AuditLog, LeafReceipt
from consent.authorisation.schema import to_epoch
from platform_node.uses.errors import FeedbackConflict, InvalidFeedback
from platform_node.uses.records import UseBook, UseKind
from platform_node.uses.schema import feedback_events, uses

MAX_AMOUNT_CNY = Decimal("100000000000")  # 1e11 CNY: far above any SME loan, catches unit mistakes
MAX_TERM_MONTHS = 360


class Decision(StrEnum):
    GRANTED = "GRANTED"
    DECLINED = "DECLINED"


class RepaymentOutcome(StrEnum):
    ON_TIME = "ON_TIME"
    OVERDUE = "OVERDUE"
    DEFAULT = "DEFAULT"


@dataclass(frozen=True)
class DecisionFeedback:
    """The lending decision; a grant states amount (CNY), annual rate (fraction, 0.0385 = 3.85%) and term.

    Optional, for the financing statistics (null: not reported): `first_loan`, the enterprise's first loan
    from any bank (首贷) rather than a renewal or repeat loan (续贷), for a grant or a decline alike; `secured`
    (grants only), secured by collateral, pledge or guarantee rather than a credit (unsecured, 信用) loan."""

    decision: Decision
    amount_cny: Decimal | None = None
    annual_rate: Decimal | None = None
    term_months: int | None = None
    first_loan: bool | None = None
    secured: bool | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "decision", Decision(self.decision))
        if any(flag is not None and not isinstance(flag, bool) for flag in (self.first_loan, self.secured)):
            raise InvalidFeedback("first_loan and secured are true or false")
        terms = (self.amount_cny, self.annual_rate, self.term_months)
        if self.decision is Decision.DECLINED:
            if any(t is not None for t in terms):
                raise InvalidFeedback("a declined application has no amount, rate or term")
            if self.secured is not None:
                raise InvalidFeedback("a declined application has no security (secured applies to grants)")
            return
        if any(t is None for t in terms):
            raise InvalidFeedback("a granted loan needs amount_cny, annual_rate and term_months")
        amount, rate = Decimal(self.amount_cny), Decimal(self.annual_rate)
        if not (amount.is_finite() and 0 < amount <= MAX_AMOUNT_CNY and amount == amount.quantize(Decimal("0.01"))):
            raise InvalidFeedback(f"amount_cny must be in (0, {MAX_AMOUNT_CNY}] with at most 2 decimals")
        if not (rate.is_finite() and 0 <= rate < 1):
            raise InvalidFeedback("annual_rate is a fraction in [0, 1), e.g. 0.0385 for 3.85%")
        if not (isinstance(self.term_months, int) and 1 <= self.term_months <= MAX_TERM_MONTHS):
            raise InvalidFeedback(f"term_months must be an integer in [1, {MAX_TERM_MONTHS}]")
        object.__setattr__(self, "amount_cny", amount)
        object.__setattr__(self, "annual_rate", rate)

    @property
    def code(self) -> str:
        return f"DECISION_{self.decision.value}"


@dataclass(frozen=True)
class RepaymentFeedback:
    """A later repayment observation on a granted loan."""

    outcome: RepaymentOutcome

    def __post_init__(self) -> None:
        object.__setattr__(self, "outcome", RepaymentOutcome(self.outcome))

    @property
    def code(self) -> str:
        return f"REPAYMENT_{self.outcome.value}"


Feedback = DecisionFeedback | RepaymentFeedback


@dataclass(frozen=True)
class FeedbackReceipt:
    use_id: str
    code: str
    at: datetime
    receipt: LeafReceipt


def feedback_digest(use_id: str, feedback: Feedback, nonce: bytes) -> str:
    if isinstance(feedback, DecisionFeedback):
        body = {"decision": feedback.decision.value, "amount_cny": str(feedback.amount_cny),
                "annual_rate": str(feedback.annual_rate), "term_months": feedback.term_months}
        # Present only when reported, so the digest of feedback without them is what it always was.
        body |= {name: value for name, value in (("first_loan", feedback.first_loan),
                                                 ("secured", feedback.secured)) if value is not None}
    else:
        body = {"outcome": feedback.outcome.value}
    document = {"use_id": use_id, "nonce": nonce.hex(), **body}
    return hashlib.sha256(json.dumps(document, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _same(column, value):
    return column.is_(None) if value is None else column == value


class FeedbackBook:
    """Records feedback on an institution's own uses."""

    def __init__(
        self, engine: Engine, audit: AuditLog, book: UseBook, *, subject_ref_key: bytes,
        randbytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self._engine, self._audit, self._book = engine, audit, book
        self._key, self._randbytes = subject_ref_key, randbytes

    def record(self, use_id: str, feedback: Feedback, *, institution_id: str, now: datetime) -> FeedbackReceipt:
        """Apply `feedback` to the institution's use; raises `UseNotFound` or `FeedbackConflict`."""
        nonce = self._randbytes(16)
        with self._engine.begin() as conn:
            use = self._book.get(use_id, institution_id=institution_id, conn=conn)
            if use.kind is not UseKind.SCORE:
                raise FeedbackConflict("feedback applies to score uses only")
            values = self._state_change(use.decision, use.outcome, feedback, now)
            # Compare-and-set on the state just read: a concurrent writer makes this touch no row.
            done = conn.execute(
                update(uses)
                .where(and_(uses.c.id == use_id, _same(uses.c.decision, use.decision), _same(uses.c.outcome, use.outcome)))
                .values(**values)
            )
            if done.rowcount != 1:
                raise FeedbackConflict("the use changed meanwhile; read it again")
            receipt = self._audit.append(
                conn,
                AuditEvent(
                    kind=EventKind.FEEDBACK_RECEIVED, occurred_at=now, use_id=use_id, institution=institution_id,
                    reason_code=feedback.code, purpose=use.purpose,
                    subject_ref=keyed_ref(self._key, use.credit_code),
                    digests={"feedback": feedback_digest(use_id, feedback, nonce)},
                ),
            )
            decision = feedback if isinstance(feedback, DecisionFeedback) else None
            conn.execute(
                insert(feedback_events).values(
                    use_id=use_id, institution_id=institution_id,
                    type="DECISION" if decision else "REPAYMENT",
                    code=decision.decision.value if decision else feedback.outcome.value,  # type: ignore[union-attr]
                    amount_fen=None if decision is None or decision.amount_cny is None
                    else int(decision.amount_cny * 100),
                    annual_rate=None if decision is None or decision.annual_rate is None
                    else str(decision.annual_rate),
                    term_months=None if decision is None else decision.term_months,
                    first_loan=None if decision is None else decision.first_loan,
                    secured=None if decision is None else decision.secured,
                    at=to_epoch(now), nonce=nonce, audit_index=receipt.index,
                )
            )
        return FeedbackReceipt(use_id, feedback.code, now, receipt)

    @staticmethod
    def _state_change(decision: str | None, outcome: str | None, feedback: Feedback, now: datetime) -> dict:
        if isinstance(feedback, DecisionFeedback):
            if decision is not None:
                raise FeedbackConflict(f"the decision was already reported ({decision})")
            return {
                "decision": feedback.decision.value, "decided_at": to_epoch(now),
                "amount_fen": None if feedback.amount_cny is None else int(feedback.amount_cny * 100),
                "annual_rate": None if feedback.annual_rate is None else str(feedback.annual_rate),
                "term_months": feedback.term_months, "first_loan": feedback.first_loan,
                "secured": feedback.secured,
            }
        if decision != Decision.GRANTED.value:
            raise FeedbackConflict("repayment outcomes need a GRANTED decision first")
        if outcome == RepaymentOutcome.DEFAULT.value:
            raise FeedbackConflict("the loan is already reported in default (final)")
        return {"outcome": feedback.outcome.value, "outcome_at": to_epoch(now)}
