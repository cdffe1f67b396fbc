"""Export of repayment outcomes as training labels into `platform_training_labels`.

Label rule (documented in docs/API.md): a granted loan reported DEFAULT is label 1; ON_TIME is label 0;
OVERDUE is indeterminate and exported only with `overdue_is_default=True` (as 1). Declined applications
and loans with no outcome yet are not labels. The export is idempotent (one row per use, refreshed when the
outcome changes), so it can run on a schedule; the next training job joins the table on `credit_code`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, and_, delete, insert, select

from consent.authorisation.schema import to_epoch
from platform_node.uses.feedback import Decision, RepaymentOutcome
from platform_node.uses.schema import training_labels, uses


@dataclass(frozen=True)
class LabelExport:
    exported: int
    positives: int
    negatives: int


def export_labels(engine: Engine, *, now: datetime, overdue_is_default: bool = False) -> LabelExport:
    """Refresh the training-label table from the uses' latest repayment outcomes."""
    labelled = {RepaymentOutcome.DEFAULT.value: 1, RepaymentOutcome.ON_TIME.value: 0}
    if overdue_is_default:
        labelled[RepaymentOutcome.OVERDUE.value] = 1
    query = select(
        uses.c.id, uses.c.credit_code, uses.c.outcome, uses.c.outcome_at, uses.c.created_at,
        uses.c.model_id, uses.c.model_version,
    ).where(and_(uses.c.decision == Decision.GRANTED.value, uses.c.outcome.in_(list(labelled))))
    with engine.begin() as conn:
        rows = conn.execute(query).all()
        conn.execute(delete(training_labels))
        records = [
            {
                "use_id": r.id, "credit_code": r.credit_code, "label": labelled[r.outcome], "outcome": r.outcome,
                "observed_at": r.outcome_at, "scored_at": r.created_at, "model_id": r.model_id,
                "model_version": r.model_version, "exported_at": to_epoch(now),
            }
            for r in rows
        ]
        if records:
            conn.execute(insert(training_labels), records)
    positives = sum(r["label"] for r in records)
    return LabelExport(len(records), positives, len(records) - positives)
