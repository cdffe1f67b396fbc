"""A source node's own record of what it ran and answered, which its usage report is compared against."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    and_,
    insert,
    select,
    update,
)

from consent.authorisation.codec import parse_canonical
from consent.governance.usage_lines import UsageKind, line_bytes

own_metadata = MetaData()
own_tasks = Table(
    "gov_own_tasks", own_metadata,
    Column("job_id", String(64), primary_key=True),
    Column("stage", String(32), primary_key=True),
    Column("line", LargeBinary, nullable=False),
    Column("day", String(10), nullable=False, index=True),
)
own_answers = Table(
    "gov_own_answers", own_metadata,
    Column("day", String(10), primary_key=True),
    Column("kind", String(8), primary_key=True),
    Column("model_id", String(64), primary_key=True),
    Column("institution", String(128), primary_key=True),
    Column("purpose", String(64), primary_key=True),
    Column("approval_id", String(40), nullable=False),
    Column("count", Integer, nullable=False),
)


@dataclass
class OwnUsage:
    """What this node itself ran and answered. Answers are counted in memory and written by `flush()` (the node
    flushes every few seconds and before any report), so counting costs the answer path a dict update."""

    engine: Engine
    _pending: dict[tuple[str, str, str, str, str, str], int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def create_schema(self) -> None:
        own_metadata.create_all(self.engine)

    def record_task(self, line: Mapping[str, Any]) -> None:
        with self.engine.begin() as conn:
            exists = conn.execute(select(own_tasks.c.job_id).where(and_(
                own_tasks.c.job_id == line["job_id"], own_tasks.c.stage == line["stage"]))).first()
            if exists is None:
                conn.execute(insert(own_tasks).values(job_id=line["job_id"], stage=line["stage"],
                                                      line=line_bytes(line), day=line["day"]))

    def count(self, kind: UsageKind, *, day: str, model_id: str, institution: str, purpose: str,
              approval_id: str, n: int) -> None:
        key = (day, UsageKind(kind).value, model_id, institution, purpose, approval_id)
        with self._lock:
            self._pending[key] = self._pending.get(key, 0) + n

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return
        try:
            self._write(pending)
        except Exception:
            with self._lock:  # not written: keep the counts for the next flush
                for key, n in pending.items():
                    self._pending[key] = self._pending.get(key, 0) + n
            raise

    def _write(self, pending: Mapping[tuple[str, str, str, str, str, str], int]) -> None:
        with self.engine.begin() as conn:
            for (day, kind, model_id, institution, purpose, approval_id), n in pending.items():
                where = and_(own_answers.c.day == day, own_answers.c.kind == kind, own_answers.c.model_id == model_id,
                             own_answers.c.institution == institution, own_answers.c.purpose == purpose)
                done = conn.execute(update(own_answers).where(where).values(count=own_answers.c.count + n))
                if done.rowcount == 0:
                    conn.execute(insert(own_answers).values(day=day, kind=kind, model_id=model_id,
                                                            institution=institution, purpose=purpose,
                                                            approval_id=approval_id, count=n))

    def tasks(self, first_day: str, last_day: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(own_tasks.c.line).where(and_(own_tasks.c.day >= first_day,
                                                                    own_tasks.c.day <= last_day))).all()
        return [parse_canonical(bytes(r.line)) for r in rows]

    def answers(self, first_day: str, last_day: str) -> list[dict[str, Any]]:
        self.flush()
        with self.engine.connect() as conn:
            rows = conn.execute(select(own_answers).where(and_(own_answers.c.day >= first_day,
                                                               own_answers.c.day <= last_day))).all()
        return [{"day": r.day, "kind": r.kind, "model_id": r.model_id, "institution": r.institution,
                 "purpose": r.purpose, "approval_id": r.approval_id, "count": int(r.count)} for r in rows]
