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
    INTERRUPTED = "INTERRUPTED"  # stopped by a fault (coordinator restart, a party lost): resumable
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


# Where a job stops moving on its own (watchers stop following). Only an operator's resume reopens a FAILED
# job; SUCCEEDED and CANCELLED never leave.
TERMINAL = {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED}
# States an operator may resume from, and the ones a job can be cancelled in.
RESUMABLE = {JobState.INTERRUPTED, JobState.FAILED}
CANCELLABLE = {JobState.PENDING, JobState.RUNNING, JobState.INTERRUPTED}
# The only state changes a job or a stage may make.
ALLOWED = {
    (JobState.PENDING, JobState.RUNNING),
    (JobState.PENDING, JobState.FAILED),
    (JobState.PENDING, JobState.INTERRUPTED),
    (JobState.PENDING, JobState.CANCELLED),
    (JobState.RUNNING, JobState.SUCCEEDED),
    (JobState.RUNNING, JobState.FAILED),
    (JobState.RUNNING, JobState.INTERRUPTED),
    (JobState.RUNNING, JobState.CANCELLED),
    (JobState.INTERRUPTED, JobState.RUNNING),
    (JobState.INTERRUPTED, JobState.FAILED),
    (JobState.INTERRUPTED, JobState.CANCELLED),
    (JobState.FAILED, JobState.RUNNING),  # an operator's `xyd job resume`
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
    sa.Column("attempts", sa.Integer, nullable=False, default=0, server_default="0"),
    sa.Column("resumed_from", sa.Integer, nullable=False, default=0, server_default="0"),
)


@dataclass(frozen=True)
class StageRecord:
    stage: str
    state: JobState
    results: dict[str, Any]
    error: str
    started_at: float | None
    finished_at: float | None
    attempts: int = 0
    resumed_from: int = 0


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
        add_missing_columns(engine, stages)

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
                StageRecord(r.stage, JobState(r.state), json.loads(r.results_json), r.error, r.started_at,
                            r.finished_at, r.attempts, r.resumed_from)
                for r in rows
            )
        return JobRecord(row["job_id"], row["name"], row["spec_toml"], JobState(row["state"]), row["error"],
                         row["created_at"], row["updated_at"], stage_records)

    def list(self, limit: int = 50, state: JobState | None = None) -> list[JobRecord]:
        """The newest jobs first, optionally only those in `state`."""
        query = sa.select(jobs.c.job_id).order_by(jobs.c.created_at.desc()).limit(limit)
        if state is not None:
            query = query.where(jobs.c.state == state)
        with self.engine.connect() as conn:
            ids = conn.execute(query).scalars().all()
        return [r for r in (self.get(i) for i in ids) if r is not None]

    def start_attempt(self, job_id: str, position: int, resumed_from: int) -> int:
        """Count one more run of a stage (it must be RUNNING); returns its attempt number, 0 for the first.
        Attempt numbers name the stage's mailboxes, so they never repeat, across coordinator restarts too."""
        where = sa.and_(stages.c.job_id == job_id, stages.c.position == position)
        with self.engine.begin() as conn:
            attempts = conn.execute(sa.select(stages.c.attempts).where(where)).scalar_one()
            conn.execute(stages.update().where(where).values(attempts=attempts + 1, resumed_from=resumed_from))
        return int(attempts)

    def mark_interrupted(self, reason: str = "interrupted: the coordinator restarted while the job ran",
                         *, now: float | None = None) -> list[str]:
        """After a restart, mark jobs that were mid-flight INTERRUPTED (resumable; finished stages keep their
        results) and return their ids."""
        now = time.time() if now is None else now
        marked = []
        with self.engine.begin() as conn:
            running = conn.execute(sa.select(jobs.c.job_id).where(
                jobs.c.state.in_([JobState.PENDING, JobState.RUNNING]))).scalars().all()
            for job_id in running:
                conn.execute(stages.update().where(sa.and_(stages.c.job_id == job_id,
                                                           stages.c.state == JobState.RUNNING))
                             .values(state=JobState.INTERRUPTED, error=reason))
                conn.execute(jobs.update().where(jobs.c.job_id == job_id)
                             .values(state=JobState.INTERRUPTED, error=reason, updated_at=now))
                marked.append(job_id)
        return marked


def add_missing_columns(engine: sa.Engine, table: sa.Table) -> None:
    """Add the columns a newer version defines to a table an older version created (its defaults fill them)."""
    present = {c["name"] for c in sa.inspect(engine).get_columns(table.name)}
    with engine.begin() as conn:
        for column in table.columns:
            if column.name not in present:
                kind = column.type.compile(dialect=engine.dialect)
                default = f" DEFAULT {column.server_default.arg}" if column.server_default is not None else ""
                conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}{default}")
