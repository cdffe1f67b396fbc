"""How a source unit's data was used: usage lines in the coordinator's governance log, the node's own record,
and the reconciliation a source node makes of the two.

A usage line is a small JSON object (canonical, RFC 8785) kept beside the log; its leaf names it by the SHA-256
of those bytes (digest `line`), so a line changed after the fact no longer matches its leaf, and a leaf removed
or changed no longer proves its inclusion under a checkpoint the coordinator signed. Kinds:

    task    a stage a source ran under an approval (job, stage, rows read, items loaded, model published)
    score   online scoring answers: count per (day, model, institution, purpose), as the platform received them
    verify  verification answers: count per (day, institution, purpose), as the platform relayed them
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
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

from consent.audit.errors import EventRejected
from consent.audit.events import AuditEvent, EventKind, sha256_hex
from consent.authorisation.codec import parse_canonical
from consent.canonical_json import canonical_json
from consent.governance.errors import GovernanceError
from consent.merkle import ProofError, leaf_hash, verify_inclusion

# The origin of the coordinator's governance log and the name of its checkpoint key.
GOVERNANCE_LOG_NAME = "xyd/coordinator/main/governance-log"


class UsageKind(StrEnum):
    TASK = "task"
    SCORE = "score"
    VERIFY = "verify"


class UsageError(GovernanceError):
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
    "gov_usage_lines", usage_metadata,
    Column("leaf_index", Integer, primary_key=True, autoincrement=False),
    Column("source", String(128), nullable=False, index=True),
    Column("day", String(10), nullable=False),
    Column("line", LargeBinary, nullable=False),
)


class UsageLines:
    """Usage lines and their leaves, appended in one transaction (the coordinator's)."""

    def __init__(self, engine: Engine, log) -> None:
        self._engine = engine
        self._log = log

    def create_schema(self) -> None:
        usage_metadata.create_all(self._engine)

    def append(self, lines: Iterable[Mapping[str, Any]], *, actor: str, now: datetime) -> list[int]:
        """Store each line with its leaf; returns the leaf indexes."""
        indexes = []
        with self._engine.begin() as conn:
            for line in lines:
                receipt = self._log.append(conn, line_event(line, actor=actor, now=now))
                conn.execute(insert(usage_lines).values(leaf_index=receipt.index, source=line["source"],
                                                        day=line["day"], line=line_bytes(line)))
                indexes.append(receipt.index)
        return indexes

    def of(self, source: str, first_day: str, last_day: str) -> list[tuple[int, bytes]]:
        """(leaf index, line bytes) of `source` for days in [first_day, last_day], in log order."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(usage_lines.c.leaf_index, usage_lines.c.line).where(and_(
                usage_lines.c.source == source, usage_lines.c.day >= first_day, usage_lines.c.day <= last_day))
                .order_by(usage_lines.c.leaf_index)).all()
        return [(int(r.leaf_index), bytes(r.line)) for r in rows]


# ---- the node's own record ----------------------------------------------------------------------------

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


# ---- reconciliation at the node ------------------------------------------------------------------------

@dataclass(frozen=True)
class Evidence:
    """One usage line as the coordinator serves it: the line, its leaf, its index and inclusion proof."""

    line: bytes
    leaf: bytes
    index: int
    proof: tuple[bytes, ...]


@dataclass(frozen=True)
class Difference:
    what: str  # altered_line | not_in_log | not_in_own_record | count_differs | bad_proof | foreign_line
    detail: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"what": self.what, **self.detail}


@dataclass(frozen=True)
class UsageReport:
    source: str
    first_day: str
    last_day: str
    tree_size: int
    tasks: tuple[dict[str, Any], ...]
    answers: tuple[dict[str, Any], ...]
    differences: tuple[Difference, ...]

    @property
    def verified(self) -> bool:
        return not self.differences

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "from": self.first_day, "to": self.last_day, "tree_size": self.tree_size,
                "verified": self.verified, "tasks": list(self.tasks), "answers": list(self.answers),
                "differences": [d.to_json() for d in self.differences]}

    def csv_rows(self) -> list[list[str]]:
        return self.rows_of(self.to_json())

    @staticmethod
    def rows_of(report: Mapping[str, Any]) -> list[list[str]]:
        """CSV rows of a report's JSON form, one per line: section, day, kind, approval, model, job, stage,
        institution, purpose, rows or log count, own count, leaf index(es), status."""
        rows = [["section", "day", "kind", "approval_id", "model_id", "job_id", "stage", "institution", "purpose",
                 "rows_or_log_count", "own_count", "leaf_index", "status"]]
        for t in report["tasks"]:
            leaf = t.get("leaf_index")
            rows.append(["task", t["day"], "task", t["approval_id"], t.get("model_id", ""), t["job_id"], t["stage"],
                         "", "", str(t["rows"]), "", "" if leaf is None else str(leaf), t["status"]])
        for a in report["answers"]:
            rows.append(["answers", a["day"], a["kind"], a.get("approval_id", ""), a["model_id"], "", "",
                         a["institution"], a["purpose"], str(a["log_count"]), str(a["own_count"]),
                         " ".join(str(i) for i in a["leaf_indexes"]), a["status"]])
        for d in report["differences"]:
            rows.append(["difference", str(d.get("day", "")), d["what"], "", str(d.get("model_id", "")),
                         str(d.get("job_id", "")), str(d.get("stage", "")), str(d.get("institution", "")),
                         str(d.get("purpose", "")), "", "", str(d.get("leaf_index", "")), "DIFFERS"])
        return rows


def _answer_key(line: Mapping[str, Any]) -> tuple[str, str, str, str, str]:
    return (line["day"], line["kind"], line.get("model_id", ""), line.get("institution", ""), line.get("purpose", ""))


def reconcile(source: str, first_day: str, last_day: str, evidence: Sequence[Evidence], *, tree_size: int,
              root: bytes, own_tasks: Sequence[Mapping[str, Any]], own_answers: Sequence[Mapping[str, Any]]
              ) -> UsageReport:
    """Check every line against its leaf and the leaf against the signed root; compare with the own record.

    Preconditions: `root` is the root of a checkpoint of size `tree_size` whose signature the caller verified.
    """
    differences: list[Difference] = []
    tasks: dict[tuple[str, str], dict[str, Any]] = {}
    logged: dict[tuple[str, str, str, str, str], dict[str, Any]] = {}
    for item in evidence:
        try:
            event = AuditEvent.from_leaf(item.leaf)
            line = parse_canonical(item.line)
        except (EventRejected, GovernanceError, Exception) as exc:  # noqa: BLE001 - any unreadable line differs
            differences.append(Difference("altered_line", {"leaf_index": item.index, "error": type(exc).__name__}))
            continue
        if event.digest_map.get("line") != sha256_hex(item.line):
            differences.append(Difference("altered_line", {"leaf_index": item.index, **_ids(line)}))
            continue
        if event.source_unit != source or line.get("source") != source:
            differences.append(Difference("foreign_line", {"leaf_index": item.index}))
            continue
        try:
            verify_inclusion(leaf_hash(item.leaf), item.index, tree_size, list(item.proof), root)
        except ProofError:
            differences.append(Difference("bad_proof", {"leaf_index": item.index, **_ids(line)}))
            continue
        if line["kind"] == UsageKind.TASK.value:
            tasks[(line["job_id"], line["stage"])] = {**line, "leaf_index": item.index}
        else:
            entry = logged.setdefault(_answer_key(line), {"count": 0, "leaf_indexes": []})
            entry["count"] += int(line["count"])
            entry["leaf_indexes"].append(item.index)
    own_by_key = {(t["job_id"], t["stage"]): t for t in own_tasks}
    task_rows = []
    for key, line in sorted(tasks.items()):
        own = own_by_key.get(key)
        status = "OK" if own is not None and line_bytes({k: v for k, v in line.items() if k != "leaf_index"}) \
            == line_bytes(own) else "DIFFERS"
        if own is None:
            differences.append(Difference("not_in_own_record", _ids(line) | {"leaf_index": line["leaf_index"]}))
        elif status != "OK":
            differences.append(Difference("task_differs", _ids(line) | {"leaf_index": line["leaf_index"]}))
        task_rows.append({**line, "status": status})
    for key, own in sorted(own_by_key.items()):
        if key not in tasks:
            differences.append(Difference("not_in_log", _ids(own)))
            task_rows.append({**own, "leaf_index": None, "status": "NOT_IN_LOG"})
    own_counts: dict[tuple[str, str, str, str, str], tuple[int, str]] = {}
    for a in own_answers:
        count, approval = own_counts.get(_answer_key(a), (0, a.get("approval_id", "")))
        own_counts[_answer_key(a)] = (count + int(a["count"]), approval)
    answer_rows = []
    for key in sorted(set(logged) | set(own_counts)):
        log_count = logged.get(key, {}).get("count", 0)
        own_count, approval = own_counts.get(key, (0, ""))
        day, kind, model_id, institution, purpose = key
        row = {"day": day, "kind": kind, "model_id": model_id, "institution": institution, "purpose": purpose,
               "approval_id": approval, "log_count": log_count, "own_count": own_count,
               "leaf_indexes": logged.get(key, {}).get("leaf_indexes", []),
               "status": "OK" if log_count == own_count else "DIFFERS"}
        if log_count != own_count:
            differences.append(Difference("count_differs", {k: row[k] for k in (
                "day", "kind", "model_id", "institution", "purpose", "log_count", "own_count")}))
        answer_rows.append(row)
    return UsageReport(source, first_day, last_day, tree_size, tuple(task_rows), tuple(answer_rows),
                       tuple(differences))


def _ids(line: Mapping[str, Any]) -> dict[str, Any]:
    return {k: line[k] for k in ("day", "kind", "job_id", "stage", "model_id", "institution", "purpose")
            if k in line}


def json_lines(report: UsageReport) -> str:
    return json.dumps(report.to_json(), indent=1, sort_keys=True)
