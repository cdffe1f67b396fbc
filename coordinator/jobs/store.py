"""Persisted job state (SQLAlchemy Core; SQLite by default): survives a coordinator restart."""

from __future__ import annotations

import enum
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from errors import IllegalTransition


class JobState(enum.StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


TERMINAL = {JobState.SUCCEEDED, JobState.FAILED}
# The only state changes a job or a stage may make.
ALLOWED = {
    (JobState.PENDING, JobState.RUNNING),
    (JobState.PENDING, JobState.FAILED),
    (JobState.RUNNING, JobState.SUCCEEDED),
    (JobState.RUNNING, JobState.FAILED),
}



metadata = sa.MetaData()
jobs = sa.Table(
    "jobs", metadata,
    sa.Column("job_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("spec_toml", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("error", sa.Text, nullable=False, default=""),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)
stages = sa.Table(
    "job_stages", metadata,
    sa.Column("job_id", sa.String(64), sa.ForeignKey("jobs.job_id"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("stage", sa.String(32), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("results_json", sa.Text, nullable=False, default="{}"),
    sa.Column("error", sa.Text, nullable=False, default=""),
    sa.Column("started_at", sa.Float),
    sa.Column("finished_at", sa.Float),
)


@dataclass(frozen=True)
class StageRecord:
    stage: str
    state: JobState
    results: dict[str, Any]
    error: str
    started_at: float | None
    finished_at: float | None


@dataclass(frozen=True)
class JobRecord:
    job_id: str
    name: str
    spec_toml: str
    state: JobState
    error: str
    created_at: float
    updated_at: float
    stages: tuple[StageRecord, ...]


class JobStore:
    """Jobs and their stages; every state change goes through the allowed-transition table."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)

    @classmethod
    def sqlite(cls, path: str) -> JobStore:
        engine = sa.create_engine(f"sqlite:///{path}")
        with engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        return cls(engine)

    def create(self, name: str, spec_toml: str, stage_names: tuple[str, ...], *, now: float | None = None) -> str:
        now = time.time() if now is None else now
        job_id = f"job-{time.strftime('%Y%m%d-%H%M%S', time.gmtime(now))}-{uuid.uuid4().hex[:6]}"
        with self.engine.begin() as conn:
            conn.execute(jobs.insert().values(job_id=job_id, name=name, spec_toml=spec_toml, state=JobState.PENDING,
                                              error="", created_at=now, updated_at=now))
            for pos, stage in enumerate(stage_names):
                conn.execute(stages.insert().values(job_id=job_id, position=pos, stage=stage, state=JobState.PENDING,
                                                    results_json="{}", error=""))
        return job_id

    def _move(self, conn: sa.Connection, table: sa.Table, where: Any, what: str, wanted: JobState) -> None:
        current = conn.execute(sa.select(table.c.state).where(where)).scalar_one()
        if (JobState(current), wanted) not in ALLOWED:
            raise IllegalTransition(current, wanted, what=what)

    def set_job_state(self, job_id: str, state: JobState, error: str = "", *, now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self.engine.begin() as conn:
            self._move(conn, jobs, jobs.c.job_id == job_id, f"job {job_id}", state)
            conn.execute(jobs.update().where(jobs.c.job_id == job_id).values(state=state, error=error, updated_at=now))

    def set_stage_state(self, job_id: str, position: int, state: JobState, *, results: dict[str, Any] | None = None,
                        error: str = "", now: float | None = None) -> None:
        now = time.time() if now is None else now
        where = sa.and_(stages.c.job_id == job_id, stages.c.position == position)
        values: dict[str, Any] = {"state": state, "error": error}
        if state == JobState.RUNNING:
            values["started_at"] = now
        if state in TERMINAL:
            values["finished_at"] = now
        if results is not None:
            values["results_json"] = json.dumps(results, sort_keys=True)
        with self.engine.begin() as conn:
            self._move(conn, stages, where, f"job {job_id} stage {position}", state)
            conn.execute(stages.update().where(where).values(**values))
            conn.execute(jobs.update().where(jobs.c.job_id == job_id).values(updated_at=now))

    def get(self, job_id: str) -> JobRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(jobs).where(jobs.c.job_id == job_id)).mappings().first()
            if row is None:
                return None
            rows = conn.execute(sa.select(stages).where(stages.c.job_id == job_id).order_by(stages.c.position))
            stage_records = tuple(
                StageRecord(r.stage, JobState(r.state), json.loads(r.results_json), r.error, r.started_at, r.finished_at)
                for r in rows
            )
        return JobRecord(row["job_id"], row["name"], row["spec_toml"], JobState(row["state"]), row["error"],
                         row["created_at"], row["updated_at"], stage_records)

    def list(self, limit: int = 50) -> list[JobRecord]:
        with self.engine.connect() as conn:
            ids = conn.execute(sa.select(jobs.c.job_id).order_by(jobs.c.created_at.desc()).limit(limit)).scalars().all()
        return [r for r in (self.get(i) for i in ids) if r is not None]

    def fail_interrupted(self, reason: str = "interrupted: the coordinator restarted while the job ran") -> list[str]:
        """After a restart, mark jobs that were mid-flight as FAILED (their finished stages keep their results)."""
        failed = []
        with self.engine.begin() as conn:
            running = conn.execute(sa.select(jobs.c.job_id).where(
                jobs.c.state.in_([JobState.PENDING, JobState.RUNNING]))).scalars().all()
            for job_id in running:
                conn.execute(stages.update().where(sa.and_(stages.c.job_id == job_id,
                                                           stages.c.state == JobState.RUNNING))
                             .values(state=JobState.FAILED, error=reason, finished_at=time.time()))
                conn.execute(jobs.update().where(jobs.c.job_id == job_id)
                             .values(state=JobState.FAILED, error=reason, updated_at=time.time()))
                failed.append(job_id)
        return failed
