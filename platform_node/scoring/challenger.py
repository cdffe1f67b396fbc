"""Champion/challenger: a second model scored in the shadow on live traffic, recorded, and reported.

For a purpose with a challenger configured (`[api.models.challengers]`), every enterprise the champion scored
for a bank is scored again with the challenger, after the answer has gone back and off the request's path
(one worker thread, a bounded backlog: when it is full a shadow batch is dropped and counted, never the
bank's request delayed). The challenger's score is never returned to the bank as its score and makes no use
record: it is stored here with the use id of the champion's answer, so that repayment outcomes reported
against that use later give both models' AUC on the same loans. Each source node still admits the shadow
query under its own approval and counts it in its usage record, like any score.

`report` answers `GET /v1/models/{model_id}/challenger-report`: counts, grade agreement, score differences,
both score distributions and, where feedback exists, both AUCs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Boolean, Column, Engine, Float, Integer, MetaData, String, Table, select

from models.metrics import DiscriminationReport, MetricError
from platform_node.scoring.model_choice import ModelChoice
from platform_node.scoring.scorer import ScoreOutcome

log = logging.getLogger("xyd.platform.scoring")

shadow_metadata = MetaData()

shadow_scores = Table(
    "platform_shadow_scores",
    shadow_metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("use_id", String(32), nullable=False, index=True),
    Column("purpose", String(32), nullable=False),
    Column("institution_id", String(128), nullable=False),
    Column("champion_model", String(128), nullable=False),
    Column("champion_score", Integer, nullable=False),
    Column("champion_pd", Float, nullable=False),
    Column("champion_grade", String(8), nullable=False),
    Column("challenger_model", String(128), nullable=False, index=True),
    Column("challenger_score", Integer, nullable=True),  # null: the challenger gave no score
    Column("challenger_pd", Float, nullable=True),
    Column("challenger_grade", String(8), nullable=True),
    Column("challenger_degraded", Boolean, nullable=False, default=False),
    Column("challenger_failure", String(32), nullable=True),
    Column("created_at", Integer, nullable=False),
)


@dataclass(frozen=True)
class Champion:
    """One answer the bank got: its use id and the champion's outcome."""

    use_id: str
    outcome: ScoreOutcome


class ChallengerShadow:
    """Scores each purpose's challenger in the shadow of the champion's answers and records both."""

    MAX_BACKLOG = 64  # shadow batches waiting; beyond it a batch is dropped (and counted)

    def __init__(self, engine: Engine, scorer: Callable[[], object], choice: ModelChoice, *,
                 deadline_s: float, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._scorer = scorer
        self.choice = choice
        self._deadline_s = deadline_s
        self._clock = clock
        shadow_metadata.create_all(engine)
        self._pool: ThreadPoolExecutor | None = None
        self._pending = 0
        self._lock = threading.Lock()
        self.dropped = 0

    def after(self, *, purpose: str, institution_id: str, answers: Sequence[tuple[str, object]]) -> None:
        """Queue the shadow scoring of `answers` ((use id, champion result) pairs) if `purpose` has a challenger;
        returns at once."""
        challenger = self.choice.challenger(purpose)
        champions = [Champion(use_id, outcome) for use_id, outcome in answers
                     if isinstance(outcome, ScoreOutcome) and outcome.model_id != challenger]
        if not challenger or not champions:
            return
        with self._lock:
            if self._pending >= self.MAX_BACKLOG:
                self.dropped += 1
                log.warning("shadow scoring dropped: backlog full", extra={"challenger": challenger,
                                                                           "enterprises": len(champions)})
                return
            self._pending += 1
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="challenger")
            self._pool.submit(self._shadow, challenger, purpose, institution_id, champions)

    def _shadow(self, challenger: str, purpose: str, institution_id: str, champions: list[Champion]) -> None:
        try:
            codes = [c.outcome.credit_code for c in champions]
            batch = self._scorer().score(codes, purpose=purpose, deadline_s=self._deadline_s,  # type: ignore[attr-defined]
                                         requester=institution_id, model_id=challenger)
            batch.check_answers(codes)
            now = int(self._clock())
            rows = []
            for champion, result in zip(champions, batch.results, strict=True):
                won = champion.outcome
                scored = isinstance(result, ScoreOutcome)
                rows.append({
                    "use_id": champion.use_id, "purpose": purpose, "institution_id": institution_id,
                    "champion_model": won.model_id, "champion_score": won.score,
                    "champion_pd": won.probability_of_default, "champion_grade": won.grade,
                    "challenger_model": challenger,
                    "challenger_score": result.score if scored else None,
                    "challenger_pd": result.probability_of_default if scored else None,
                    "challenger_grade": result.grade if scored else None,
                    "challenger_degraded": bool(scored and result.degraded),
                    "challenger_failure": None if scored else result.code.value,
                    "created_at": now})
            with self._engine.begin() as conn:
                conn.execute(shadow_scores.insert(), rows)
        except Exception as exc:  # the shadow never disturbs the champion's service
            log.error("shadow scoring failed", extra={"challenger": challenger,
                                                      "error": f"{type(exc).__name__}: {exc}"})
        finally:
            with self._lock:
                self._pending -= 1

    def idle(self) -> bool:
        """Whether no shadow batch is queued or running."""
        with self._lock:
            return self._pending == 0

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


def report(engine: Engine, challenger: str, outcomes: Callable[[list[str]], dict[str, int]]) -> dict[str, Any]:
    """Both models on the traffic the challenger shadowed: counts, agreement, score distributions and, for the
    uses with a repayment label (`outcomes`: use id -> 1 default / 0 repaid), both AUCs."""
    with engine.connect() as conn:
        rows = conn.execute(select(shadow_scores).where(shadow_scores.c.challenger_model == challenger)
                            .order_by(shadow_scores.c.seq)).all()
    scored = [r for r in rows if r.challenger_score is not None]
    champion = np.array([r.champion_score for r in scored], dtype=np.float64)
    shadow = np.array([r.challenger_score for r in scored], dtype=np.float64)
    labels = outcomes([r.use_id for r in scored])
    labelled = [r for r in scored if r.use_id in labels]
    y = np.array([labels[r.use_id] for r in labelled], dtype=np.float64)
    return {
        "challenger_model": challenger,
        "champion_models": sorted({r.champion_model for r in rows}),
        "purposes": sorted({r.purpose for r in rows}),
        "shadowed": len(rows),
        "challenger_scored": len(scored),
        "challenger_failed": len(rows) - len(scored),
        "challenger_degraded": sum(1 for r in scored if r.challenger_degraded),
        "grade_agreement": _share(sum(1 for r in scored if r.challenger_grade == r.champion_grade), len(scored)),
        "mean_score_difference": float(np.mean(shadow - champion)) if len(scored) else None,
        "mean_abs_score_difference": float(np.mean(np.abs(shadow - champion))) if len(scored) else None,
        "champion_scores": _distribution(champion),
        "challenger_scores": _distribution(shadow),
        "with_outcome": len(labelled),
        "champion_auc": _auc(y, [r.champion_pd for r in labelled]),
        "challenger_auc": _auc(y, [r.challenger_pd for r in labelled]),
    }


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _distribution(scores: np.ndarray) -> dict[str, float] | None:
    if not scores.size:
        return None
    p10, p50, p90 = np.percentile(scores, [10, 50, 90]).tolist()
    return {"mean": float(scores.mean()), "std": float(scores.std()), "p10": p10, "p50": p50, "p90": p90,
            "min": float(scores.min()), "max": float(scores.max())}


def _auc(y: np.ndarray, pd: Sequence[float]) -> float | None:
    try:
        return float(DiscriminationReport.of(y, np.asarray(pd, dtype=np.float64)).auc)
    except MetricError:  # one class only (or no labelled use yet)
        return None
