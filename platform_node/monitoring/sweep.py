"""Re-scoring of monitored loans, on a schedule and on demand, raising alerts on deterioration.

A loan is monitored while it is active: the use's decision is GRANTED, no DEFAULT was reported, its term
has not run out, and its score at lending was not degraded (a degraded score is no baseline). Each due loan
whose bank holds an ACTIVE MONITOR authorisation is re-scored (purpose POST_LOAN_MONITORING); the new score
is compared with the reference (the lending score, or the score at the last alert) by the deterioration
rule, and a deterioration creates an alert for the lending bank. Failed or degraded re-scores raise no alert
and are retried after `retry_after`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Connection, Engine, and_, insert, not_, or_, select, update

from consent.authorisation import Purpose
from consent.authorisation.schema import from_epoch, to_epoch
from errors import Conflict, Refused
from models.horizontal.published import MODEL_ID_PREFIX as HORIZONTAL_MODEL_ID_PREFIX
from platform_node.monitoring.alerts import Alert, AlertBook, NewAlert
from platform_node.monitoring.deterioration import DeteriorationRule
from platform_node.monitoring.eligibility import MonitorAuthorisations
from platform_node.monitoring.schema import monitoring_metadata, monitoring_state
from platform_node.scoring.scorer import ScoreOutcome, Scorer
from platform_node.uses.feedback import Decision, RepaymentOutcome
from platform_node.uses.schema import uses

# Loan terms are in months; a month is taken as 30.44 days (365.25 / 12) to decide when a loan has ended.
SECONDS_PER_MONTH = 2_629_800


DEFAULT_RULE = DeteriorationRule()


class Trigger(StrEnum):
    SCHEDULE = "SCHEDULE"
    ON_DEMAND = "ON_DEMAND"


class NotMonitorable(Conflict):
    """An on-demand re-score was asked for a use that is not an active, monitorable loan."""


class MonitoringNotAuthorised(Refused):
    """The lending bank holds no ACTIVE MONITOR authorisation of the enterprise now."""


@dataclass(frozen=True)
class SweepReport:
    candidates: int
    rescored: int
    failed: int
    skipped_unauthorised: int
    alerts: tuple[Alert, ...]


@dataclass(frozen=True)
class _Loan:
    use_id: str
    institution_id: str
    credit_code: str
    loan_application_ref: str
    reference_score: int
    reference_grade: str
    has_state: bool


class MonitoringSweep:
    def __init__(
        self,
        engine: Engine,
        scorer: Scorer,
        authorisations: MonitorAuthorisations,
        alerts: AlertBook,
        *,
        rule: DeteriorationRule = DEFAULT_RULE,
        interval: timedelta = timedelta(days=1),
        retry_after: timedelta = timedelta(hours=1),
        deadline_s: float = 2.0,
        batch_size: int = 5000,
    ) -> None:
        self._engine, self._scorer, self._authorisations, self._alerts = engine, scorer, authorisations, alerts
        self._rule, self._interval, self._retry = rule, interval, retry_after
        self._deadline_s, self._batch = deadline_s, batch_size

    def create_schema(self) -> None:
        monitoring_metadata.create_all(self._engine)

    def run(self, *, now: datetime) -> SweepReport:
        """Re-score every active loan that is due (the scheduled sweep)."""
        return self._process(self._loans(now=now, due_only=True), now=now, trigger=Trigger.SCHEDULE)

    def rescore(self, use_id: str, *, institution_id: str, now: datetime) -> SweepReport:
        """Re-score one of the institution's loans now; raises `NotMonitorable` or `MonitoringNotAuthorised`."""
        loans = self._loans(now=now, due_only=False, use_id=use_id, institution_id=institution_id)
        if not loans:
            raise NotMonitorable("the use is not an active granted loan of this institution")
        loan = loans[0]
        if self._authorisations.active_monitor(loan.credit_code, loan.institution_id, now=now) is None:
            raise MonitoringNotAuthorised("no ACTIVE MONITOR authorisation covers this enterprise now")
        return self._process(loans, now=now, trigger=Trigger.ON_DEMAND)

    def _loans(self, *, now: datetime, due_only: bool, use_id: str | None = None,
               institution_id: str | None = None) -> list[_Loan]:
        state = monitoring_state
        query = (
            select(uses.c.id, uses.c.institution_id, uses.c.credit_code, uses.c.loan_application_ref,
                   uses.c.score, uses.c.grade, uses.c.decided_at, uses.c.term_months,
                   state.c.reference_score, state.c.reference_grade, state.c.next_check_at)
            .select_from(uses.outerjoin(state, state.c.use_id == uses.c.id))
            .where(and_(uses.c.decision == Decision.GRANTED.value, uses.c.degraded.is_(False),
                        or_(uses.c.outcome.is_(None), uses.c.outcome != RepaymentOutcome.DEFAULT.value),
                        # Re-scoring uses the joint model: a loan scored with the banks' horizontal model has
                        # no comparable baseline (and the platform holds none of its variables).
                        not_(uses.c.model_id.startswith(HORIZONTAL_MODEL_ID_PREFIX))))
            .order_by(uses.c.id)
        )
        if due_only:
            query = query.where(or_(state.c.next_check_at.is_(None), state.c.next_check_at <= to_epoch(now)))
        if use_id is not None:
            query = query.where(uses.c.id == use_id)
        if institution_id is not None:
            query = query.where(uses.c.institution_id == institution_id)
        moment = to_epoch(now)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            _Loan(
                row.id, row.institution_id, row.credit_code, row.loan_application_ref,
                row.reference_score if row.reference_score is not None else row.score,
                row.reference_grade if row.reference_grade is not None else row.grade,
                row.next_check_at is not None,
            )
            for row in rows
            if row.decided_at + (row.term_months or 0) * SECONDS_PER_MONTH > moment
        ]

    def _process(self, loans: Sequence[_Loan], *, now: datetime, trigger: Trigger) -> SweepReport:
        rescored = failed = skipped = 0
        raised: list[Alert] = []
        for start in range(0, len(loans), self._batch):
            chunk = loans[start : start + self._batch]
            authorised: list[tuple[_Loan, str]] = []
            for loan in chunk:
                authorisation = self._authorisations.active_monitor(loan.credit_code, loan.institution_id, now=now)
                if authorisation is None:
                    skipped += 1
                    self._save_state(loan, now=now, next_check=now + self._interval)
                else:
                    authorised.append((loan, authorisation))
            # Re-scored on behalf of each lending institution: every source node admits answers per institution.
            by_institution: dict[str, dict[str, object]] = {}
            for institution in sorted({loan.institution_id for loan, _ in authorised}):
                codes = sorted({loan.credit_code for loan, _ in authorised if loan.institution_id == institution})
                batch = self._scorer.score(codes, purpose=Purpose.POST_LOAN_MONITORING.value,
                                           deadline_s=self._deadline_s, requester=institution)
                batch.check_answers(codes)
                by_institution[institution] = {result.credit_code: result for result in batch}
            for loan, authorisation in authorised:
                result = by_institution[loan.institution_id][loan.credit_code]
                if not isinstance(result, ScoreOutcome) or result.degraded:
                    failed += 1
                    failure = "DEGRADED" if isinstance(result, ScoreOutcome) else result.code.value
                    self._save_state(loan, now=now, next_check=now + self._retry, failure=failure)
                    continue
                rescored += 1
                alert = self._compare(loan, authorisation, result, now=now, trigger=trigger)
                if alert is not None:
                    raised.append(alert)
        return SweepReport(len(loans), rescored, failed, skipped, tuple(raised))

    def _compare(self, loan: _Loan, authorisation: str, result: ScoreOutcome, *, now: datetime,
                 trigger: Trigger) -> Alert | None:
        found = self._rule.assess(loan.reference_score, loan.reference_grade, result.score, result.grade)
        with self._engine.begin() as conn:
            alert = None
            if found is not None:
                alert, _ = self._alerts.create(
                    conn,
                    NewAlert(loan.institution_id, loan.use_id, loan.credit_code, loan.loan_application_ref,
                             authorisation, found, loan.reference_score, loan.reference_grade, result.score,
                             result.grade, result.reason_codes, result.model_id, result.model_version, trigger.value),
                    now=now,
                )
            self._write_state(
                conn, loan, now=now, next_check=now + self._interval, score=result.score, grade=result.grade,
                reference=(result.score, result.grade) if found is not None else None,
            )
        return alert

    def _save_state(self, loan: _Loan, *, now: datetime, next_check: datetime, failure: str | None = None) -> None:
        with self._engine.begin() as conn:
            self._write_state(conn, loan, now=now, next_check=next_check, failure=failure)

    @staticmethod
    def _write_state(conn: Connection, loan: _Loan, *, now: datetime, next_check: datetime,
                     score: int | None = None, grade: str | None = None,
                     reference: tuple[int, str] | None = None, failure: str | None = None) -> None:
        values: dict[str, object] = {"next_check_at": to_epoch(next_check), "last_failure": failure}
        if score is not None:
            values.update(last_score=score, last_grade=grade, last_checked_at=to_epoch(now))
        if reference is not None:
            values.update(reference_score=reference[0], reference_grade=reference[1])
        done = conn.execute(update(monitoring_state).where(monitoring_state.c.use_id == loan.use_id).values(**values))
        if done.rowcount == 0:
            row: dict[str, object] = {
                "use_id": loan.use_id, "baseline_score": loan.reference_score, "baseline_grade": loan.reference_grade,
                "reference_score": loan.reference_score, "reference_grade": loan.reference_grade,
            }
            conn.execute(insert(monitoring_state).values(**{**row, **values}))


def next_due(engine: Engine) -> datetime | None:
    """The earliest scheduled check, for operators."""
    with engine.connect() as conn:
        value = conn.execute(select(monitoring_state.c.next_check_at).order_by(monitoring_state.c.next_check_at)
                             .limit(1)).scalar_one_or_none()
    return None if value is None else from_epoch(value)
