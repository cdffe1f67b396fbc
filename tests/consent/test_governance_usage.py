"""Usage lines, their events forwarded to a log (as the platform's one log takes them) and a node's reconciliation:
lines verified against their leaves and a signed root; a deleted, altered or foreign line, a bad proof and a count
that differs are each reported."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import delete, update

from consent.audit import AuditEvent, AuditLog
from consent.audit.storage import open_engine
from consent.governance.outbox import ForwardReceipt, GovernanceOutbox
from consent.governance.own_usage import OwnUsage
from consent.governance.usage_lines import (
    UsageKind,
    UsageLines,
    answer_line,
    line_bytes,
    task_line,
    usage_lines,
)
from consent.governance.usage_report import Evidence, reconcile
from tests.consent.governance_world import T0

SOURCE = "source/tax"


@pytest.fixture
def world(tmp_path):
    engine = open_engine(f"sqlite:///{tmp_path / 'coord.db'}")
    log = AuditLog(open_engine(f"sqlite:///{tmp_path / 'platform.db'}"))  # the one log the events are forwarded to
    log.create_schema()
    outbox = GovernanceOutbox(engine)
    outbox.create_schema()
    lines = UsageLines(engine, outbox)
    lines.outbox = outbox  # type: ignore[attr-defined]
    lines.create_schema()
    own = OwnUsage(open_engine(f"sqlite:///{tmp_path / 'node.db'}"))
    own.create_schema()
    return engine, log, lines, own


TASK = task_line(source=SOURCE, job_id="job-1", stage="train", approval_id="apv-" + "a" * 32, rows=120,
                 items=["revenue", "vat"], at=T0)
SCORES = answer_line(kind=UsageKind.SCORE, source=SOURCE, model_id="sb-job-1", institution="bank/icbc-sz",
                     purpose="PRE_LOAN_REVIEW", day="2026-03-01", count=5)


def forward(outbox: GovernanceOutbox, log: AuditLog) -> None:
    """What the platform does with the pending events: each a leaf of its log, in order; the receipts kept."""
    pending = outbox.pending()
    with log.engine.begin() as conn:
        receipts = log.append_many(conn, [AuditEvent.from_leaf(e.leaf) for e in pending])
    outbox.forwarded([ForwardReceipt(e.seq, r.index, r.tree_size, r.root) for e, r in zip(pending, receipts, strict=True)])


def evidence(log: AuditLog, lines: UsageLines) -> tuple[list[Evidence], int, bytes]:
    forward(lines.outbox, log)  # type: ignore[attr-defined]
    head = log.tree_head()
    found = []
    for seq, line in lines.of(SOURCE, "2026-03-01", "2026-03-01"):
        index = lines.outbox.get(seq).leaf_index  # type: ignore[attr-defined]
        found.append(Evidence(line, log.leaf(index).leaf, index, tuple(log.inclusion_proof(index, head.size))))
    return found, head.size, head.root


def report(world):
    _, log, lines, own = world
    found, size, root = evidence(log, lines)
    return reconcile(SOURCE, "2026-03-01", "2026-03-01", found, tree_size=size, root=root,
                     own_tasks=own.tasks("2026-03-01", "2026-03-01"), own_answers=own.answers("2026-03-01", "2026-03-01"))


def test_matching_records_reconcile(world) -> None:
    _, _, lines, own = world
    lines.append([TASK, SCORES, {**SCORES, "count": 2}], actor="coordinator/main", now=T0)
    lines.append([task_line(source="source/court", job_id="job-1", stage="train", approval_id="apv-" + "b" * 32,
                            rows=1, items=[], at=T0)], actor="coordinator/main", now=T0)
    own.record_task(TASK)
    own.count(UsageKind.SCORE, day="2026-03-01", model_id="sb-job-1", institution="bank/icbc-sz",
              purpose="PRE_LOAN_REVIEW", approval_id="apv-" + "a" * 32, n=7)
    result = report(world)
    assert result.verified, result.differences
    assert [t["status"] for t in result.tasks] == ["OK"]
    assert [(a["log_count"], a["own_count"]) for a in result.answers] == [(7, 7)]
    assert result.csv_rows()[1][0] == "task"


def test_a_deleted_or_altered_line_and_a_differing_count_are_reported(world) -> None:
    engine, _, lines, own = world
    task_seq, score_seq = lines.append([TASK, SCORES], actor="coordinator/main", now=T0)
    own.record_task(TASK)
    own.count(UsageKind.SCORE, day="2026-03-01", model_id="sb-job-1", institution="bank/icbc-sz",
              purpose="PRE_LOAN_REVIEW", approval_id="x", n=6)
    assert {d.what for d in report(world).differences} == {"count_differs"}
    with engine.begin() as conn:  # someone with the coordinator's database lowers the count it reports
        conn.execute(update(usage_lines).where(usage_lines.c.event_seq == score_seq)
                     .values(line=line_bytes({**SCORES, "count": 6})))
        conn.execute(delete(usage_lines).where(usage_lines.c.event_seq == task_seq))
    found = {d.what for d in report(world).differences}
    assert found == {"altered_line", "not_in_log", "count_differs"}


def test_a_proof_against_another_root_fails(world) -> None:
    _, log, lines, own = world
    lines.append([TASK], actor="coordinator/main", now=T0)
    own.record_task(TASK)
    found, size, root = evidence(log, lines)
    lines.append([SCORES], actor="coordinator/main", now=T0)  # the log grew: the old proof, the new root
    forward(lines.outbox, log)  # type: ignore[attr-defined]
    result = reconcile(SOURCE, "2026-03-01", "2026-03-01", found, tree_size=size + 1, root=log.tree_head().root,
                       own_tasks=own.tasks("2026-03-01", "2026-03-01"), own_answers=[])
    assert [d.what for d in result.differences] == ["bad_proof", "not_in_log"]


def test_answers_are_counted_exactly_by_concurrent_threads(world) -> None:
    *_, own = world

    def answer() -> None:
        for k in range(200):
            own.count(UsageKind.VERIFY, day="2026-03-01", model_id="", institution="bank/a", purpose="LOAN_APPROVAL",
                      approval_id="x", n=1)
            if k % 50 == 0:
                own.flush()

    threads = [threading.Thread(target=answer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [a["count"] for a in own.answers("2026-03-01", "2026-03-01")] == [1600]

