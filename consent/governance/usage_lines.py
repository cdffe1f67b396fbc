"""Usage lines: how a source unit's data was used, as the platform's one audit log records it.

A usage line is a small JSON object (canonical, RFC 8785) kept beside the log; its leaf names it by the SHA-256
of those bytes (digest `line`), so a line changed after the fact no longer matches its leaf, and a leaf removed
or changed no longer proves its inclusion under a checkpoint the platform signed and the witnesses cosigned. Kinds:

    task    a stage a source ran under an approval (job, stage, rows read, items loaded, model published)
    score   online scoring answers: count per (day, model, institution, purpose), as the platform received them
    verify  verification answers: count per (day, institution, purpose), as the platform relayed them
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Engine, Integer, LargeBinary, MetaData, String, Table, and_, insert, select

from consent.audit.events import AuditEvent, EventKind, sha256_hex
from consent.canonical_json import canonical_json
from consent.governance.errors import GovernanceError
from consent.governance.outbox import GovernanceOutbox
from errors import InvalidInput

# The origin of the coordinator's former governance log (merged into the platform's one log).
GOVERNANCE_LOG_NAME = "xyd/coordinator/main/governance-log"


class UsageKind(StrEnum):
    TASK = "task"
    SCORE = "score"
    VERIFY = "verify"


class UsageError(GovernanceError, InvalidInput):
    """A usage line or query is malformed."""


def day_of(moment: datetime) -> str:
    return moment.date().isoformat()


def task_line(*, source: str, job_id: str, stage: str, approval_id: str, rows: int, items: Sequence[str],
              model_id: str = "", at: datetime) -> dict[str, Any]:
    return {"kind": UsageKind.TASK.value, "source": source, "job_id": job_id, "stage": stage,
            "approval_id": approval_id, "rows": int(rows), "items": sorted(items), "model_id": model_id,
            "day": day_of(at)}


def answer_line(*, kind: UsageKind, source: str, model_id: str, institution: str, purpose: str, day: str,
                count: int) -> dict[str, Any]:
    if kind not in (UsageKind.SCORE, UsageKind.VERIFY) or count < 1:
        raise UsageError("an answer line counts score or verify answers, at least one")
    return {"kind": UsageKind(kind).value, "source": source, "model_id": model_id, "institution": institution,
            "purpose": purpose, "day": day, "count": int(count)}


def line_bytes(line: Mapping[str, Any]) -> bytes:
    return canonical_json(dict(line))


def line_event(line: Mapping[str, Any], *, actor: str, now: datetime) -> AuditEvent:
    """The leaf that names `line`: ids in the clear, the line itself by its digest."""
    digest = {"line": sha256_hex(line_bytes(line))}
    if line["kind"] == UsageKind.TASK.value:
        return AuditEvent(kind=EventKind.TASK_RUN, occurred_at=now, job_id=line["job_id"], source_unit=line["source"],
                          approval_id=line["approval_id"], model_id=line.get("model_id") or None, actor=actor,
                          digests=digest)
    return AuditEvent(kind=EventKind.USAGE_REPORTED, occurred_at=now, source_unit=line["source"],
                      model_id=line.get("model_id") or None, institution=line["institution"] or None, actor=actor,
                      purpose=line["purpose"] or None, digests=digest)


# ---- the coordinator's copy of the lines ---------------------------------------------------------------

usage_metadata = MetaData()
usage_lines = Table(
    "gov_usage", usage_metadata,
    Column("event_seq", Integer, primary_key=True, autoincrement=False),  # the line's event in the outbox
    Column("source", String(128), nullable=False, index=True),
    Column("day", String(10), nullable=False),
    Column("line", LargeBinary, nullable=False),
)

# Before the one log: lines named by their leaf index in the coordinator's own governance log (migrated).
legacy_usage_lines = Table(
    "gov_usage_lines", MetaData(),
    Column("leaf_index", Integer, primary_key=True, autoincrement=False),
    Column("source", String(128), nullable=False, index=True),
    Column("day", String(10), nullable=False),
    Column("line", LargeBinary, nullable=False),
)


class UsageLines:
    """Usage lines and their governance events, recorded in one transaction (the coordinator's); the events
    become leaves of the platform's one log when forwarded."""

    def __init__(self, engine: Engine, outbox: GovernanceOutbox) -> None:
        self._engine = engine
        self._outbox = outbox

    def create_schema(self) -> None:
        usage_metadata.create_all(self._engine)

    def append(self, lines: Iterable[Mapping[str, Any]], *, actor: str, now: datetime) -> list[int]:
        """Store each line with its event; returns the events' numbers."""
        seqs = []
        with self._engine.begin() as conn:
            for line in lines:
                entry = self._outbox.append(conn, line_event(line, actor=actor, now=now))
                conn.execute(insert(usage_lines).values(event_seq=entry.seq, source=line["source"],
                                                        day=line["day"], line=line_bytes(line)))
                seqs.append(entry.seq)
        return seqs

    def of(self, source: str, first_day: str, last_day: str) -> list[tuple[int, bytes]]:
        """(event number, line bytes) of `source` for days in [first_day, last_day], in order."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(usage_lines.c.event_seq, usage_lines.c.line).where(and_(
                usage_lines.c.source == source, usage_lines.c.day >= first_day, usage_lines.c.day <= last_day))
                .order_by(usage_lines.c.event_seq)).all()
        return [(int(r.event_seq), bytes(r.line)) for r in rows]
