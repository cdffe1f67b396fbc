"""Governance events in the platform's one log: the coordinator's outbox forwarded in order, waiting while the
platform is away (a gap, a reused number or a non-governance leaf is refused; a resend gets the same receipt), and
an existing deployment's coordinator governance log merged into the one log (`xyd platform
merge-governance-log`) with every earlier proof still checkable, the coordinator refusing to start before the
merge and continuing after it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, LargeBinary, MetaData, String, Table, insert, select

from cli.compliance.commands import check_merges
from cli.main import main as cli_main
from consent.audit import (
    AuditEvent,
    AuditLog,
    CheckpointPublisher,
    CosignatureSigner,
    Ed25519Signer,
    EventKind,
    LogTamperedError,
    Witness,
    issue_receipt,
    open_engine,
    verify_log_rows,
    verify_receipt,
)
from consent.audit.merge import verify_merges
from consent.governance.outbox import GovernanceOutbox
from consent.governance.usage_lines import UsageKind, answer_line, line_bytes, line_event, task_line
from coordinator.governance import GovernanceDesk
from coordinator.registry import NodeRegistry
from errors import ConfigurationError, Conflict, Refused
from platform_node.consent_registry.governance_intake import GovernanceIntake, IntakeItem
from platform_node.governance_log_merge import ARCHIVE_PREFIX, merge_governance_databases
from tests.consent.governance_world import T0

COORDINATOR = "coordinator/main"


def approval_event(n: int) -> AuditEvent:
    return AuditEvent(kind=EventKind.APPROVAL_FILED, occurred_at=T0 + timedelta(seconds=n),
                      approval_id=f"apv-{n:032x}", source_unit="source/tax", actor="admin/operator")


def one_log(path: Path) -> AuditLog:
    """The platform's one log with a consent event in it, witnessed."""
    log = AuditLog(open_engine(f"sqlite:///{path}"))
    log.create_schema()
    with log.engine.begin() as conn:
        log.append(conn, AuditEvent(kind=EventKind.AUTHORISATION_CREATED, occurred_at=T0, authorisation_id="auth-1"))
    return log


def test_events_arrive_in_order_without_a_gap_and_a_resend_gets_its_receipt(tmp_path: Path) -> None:
    log = one_log(tmp_path / "platform.db")
    intake = GovernanceIntake(log)
    intake.create_schema()
    first = intake.append(COORDINATOR, [IntakeItem(1, approval_event(1).to_leaf()),
                                        IntakeItem(2, approval_event(2).to_leaf())])
    assert [(r.seq, r.leaf_index) for r in first] == [(1, 1), (2, 2)]
    assert log.leaf(2).leaf == approval_event(2).to_leaf()
    again = intake.append(COORDINATOR, [IntakeItem(2, approval_event(2).to_leaf()),
                                        IntakeItem(3, approval_event(3).to_leaf())])
    assert [(r.seq, r.leaf_index) for r in again] == [(2, 2), (3, 3)]
    assert again[0].root == first[1].root and log.tree_size() == 4
    with pytest.raises(Conflict, match="skips 4"):
        intake.append(COORDINATOR, [IntakeItem(5, approval_event(5).to_leaf())])
    with pytest.raises(Conflict, match="other content"):
        intake.append(COORDINATOR, [IntakeItem(3, approval_event(9).to_leaf())])
    consent = AuditEvent(kind=EventKind.AUTHORISATION_CREATED, occurred_at=T0, authorisation_id="auth-2")
    with pytest.raises(Refused, match="not a governance event"):
        intake.append(COORDINATOR, [IntakeItem(4, consent.to_leaf())])
    assert log.tree_size() == 4  # nothing of a refused batch was appended
    assert intake.senders_leaves(COORDINATOR, [0, 1, 3, 7]) == {1, 3}  # never the consent leaf 0


def test_the_outbox_numbers_events_without_a_gap_even_after_a_rollback(tmp_path: Path) -> None:
    outbox = GovernanceOutbox(open_engine(f"sqlite:///{tmp_path / 'coordinator.db'}"))
    outbox.create_schema()
    with outbox.engine.begin() as conn:
        assert outbox.append(conn, approval_event(1)).seq == 1
    with pytest.raises(RuntimeError), outbox.engine.begin() as conn:
        outbox.append(conn, approval_event(2))
        raise RuntimeError("the state change failed: its event goes with it")
    with outbox.engine.begin() as conn:
        assert outbox.append(conn, approval_event(3)).seq == 2
    assert [e.seq for e in outbox.pending()] == [1, 2] and outbox.counts() == (2, 2)


def _old_coordinator(path: Path) -> tuple[AuditLog, Ed25519Signer, list[bytes]]:
    """A coordinator of an earlier version: its own governance log with usage lines, checkpoints signed with its
    governance-log key."""
    engine = open_engine(f"sqlite:///{path}")
    log = AuditLog(engine, prefix="governance")
    log.create_schema()
    legacy = Table("gov_usage_lines", MetaData(), Column("leaf_index", Integer, primary_key=True),
                   Column("source", String(128)), Column("day", String(10)), Column("line", LargeBinary))
    legacy.metadata.create_all(engine)
    lines = [task_line(source="source/tax", job_id="job-1", stage="train", approval_id="apv-" + "a" * 32, rows=5,
                       items=["revenue"], at=T0),
             answer_line(kind=UsageKind.SCORE, source="source/tax", model_id="sb-1", institution="bank/a",
                         purpose="PRE_LOAN_REVIEW", day=T0.date().isoformat(), count=3)]
    with engine.begin() as conn:
        log.append(conn, approval_event(1))
        for line in lines:
            receipt = log.append(conn, line_event(line, actor=COORDINATOR, now=T0))
            conn.execute(insert(legacy).values(leaf_index=receipt.index, source=line["source"], day=line["day"],
                                               line=line_bytes(line)))
    signer = Ed25519Signer.generate("xyd/coordinator/main/governance-log")
    CheckpointPublisher(log, signer).publish(now=T0)
    return log, signer, [line_bytes(line) for line in lines]


def test_a_coordinators_governance_log_merges_into_the_one_log_with_its_proofs_kept(tmp_path: Path) -> None:
    old, old_signer, lines = _old_coordinator(tmp_path / "coordinator.db")
    old_note = old.latest_checkpoint()
    old_receipt = issue_receipt(old, 2, old_note)  # what a usage report proved before the merge
    platform = one_log(tmp_path / "platform.db")
    platform_signer = Ed25519Signer.generate("xyd/platform/main/audit-log")
    witness = Witness(CosignatureSigner.generate("source/tax"), [platform_signer.verifier()])
    before = CheckpointPublisher(platform, platform_signer, [witness], quorum=1).publish(now=T0)
    platform_receipt = issue_receipt(platform, 0, before.note)

    with pytest.raises(ConfigurationError, match="merge-governance-log"):  # the coordinator waits for the merge
        GovernanceDesk(f"sqlite:///{tmp_path / 'coordinator.db'}", NodeRegistry(old.engine))
    report = merge_governance_databases(old.engine, platform.engine, now=T0)
    assert (report.leaves, report.merged.first_index, report.outbox_events, report.usage_lines) == (3, 1, 3, 2)
    # Every earlier proof still checks: the coordinator's against the archive, the platform's against the one log.
    archive = AuditLog(platform.engine, prefix=ARCHIVE_PREFIX)
    assert verify_receipt(old_receipt, old_signer.verifier())[0].kind is EventKind.USAGE_REPORTED
    assert verify_receipt(issue_receipt(archive, 2, archive.latest_checkpoint()), old_signer.verifier())[0].kind \
        is EventKind.USAGE_REPORTED
    after = CheckpointPublisher(platform, platform_signer, [witness], quorum=1).publish(now=T0 + timedelta(1))
    assert after.checkpoint.size == 5 and verify_receipt(platform_receipt, platform_signer.verifier())
    assert [m.archive_prefix for m in check_merges(platform, [old_signer.verifier().vkey()])] == [ARCHIVE_PREFIX]
    verify_log_rows(platform)
    # The coordinator continues: its outbox knows where each old event is; its next event is number 4.
    desk = GovernanceDesk(f"sqlite:///{tmp_path / 'coordinator.db'}", NodeRegistry(old.engine))
    outbox = desk.outbox
    assert [platform.leaf(outbox.get(n).leaf_index).leaf for n in (1, 2, 3)] == [leaf.leaf for leaf in old.leaves()]
    assert [line for _, line in desk.usage.lines.of("source/tax", "2026-01-01", "2027-01-01")] == lines
    assert [seq for seq, _ in desk.usage.lines.of("source/tax", "2026-01-01", "2027-01-01")] == [2, 3]
    seq = desk.usage.lines.append([{**json_of(lines[1]), "count": 1}], actor=COORDINATOR, now=T0)[0]
    assert seq == 4 and [e.seq for e in outbox.pending()] == [4]
    intake = GovernanceIntake(platform)
    receipt = intake.append(COORDINATOR, [IntakeItem(4, outbox.get(4).leaf)])[0]
    assert receipt.leaf_index == 5  # after the merged leaves and the log_merged leaf
    # A second run changes nothing; tampering with the archive is caught.
    again = merge_governance_databases(old.engine, platform.engine, now=T0)
    assert (again.outbox_events, again.usage_lines) == (0, 0) and platform.tree_size() == 6
    with platform.engine.begin() as conn:
        conn.execute(archive.tables.leaf.update().where(archive.tables.leaf.c.idx == 0).values(
            leaf=approval_event(7).to_leaf()))
    with pytest.raises(LogTamperedError):
        verify_merges(platform)


def json_of(line: bytes) -> dict:
    import json

    return json.loads(line)


def test_the_command_merges_a_stopped_deployment(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _old_coordinator(tmp_path / "coordinator.db")
    state = tmp_path / "platform-state"
    config = tmp_path / "platform.toml"
    config.write_text("\n".join([
        "[node]", 'listen = "127.0.0.1:0"', f'state_dir = "{state}"', "",
        "[tls]", 'ca = "ca.pem"', 'cert = "cert.pem"', 'key = "key.pem"', "",
        "[consent]", f'db = "sqlite:///{tmp_path / "platform.db"}"', ""]), encoding="utf-8")
    one_log(tmp_path / "platform.db")
    assert cli_main(["platform", "merge-governance-log", "--config", str(config), "--coordinator-db",
                     str(tmp_path / "coordinator.db")]) == 0
    out = capsys.readouterr().out
    assert "leaves 1..3 of the platform's log" in out and "log_merged leaf 4" in out
    engine = open_engine(f"sqlite:///{tmp_path / 'platform.db'}")
    kinds = [AuditEvent.from_leaf(row.leaf).kind.value for row in AuditLog(engine).leaves()]
    assert kinds == ["authorisation_created", "approval_filed", "governed_task_run", "usage_reported", "log_merged"]
    with engine.connect() as conn:
        assert conn.execute(select(AuditLog(engine).tables.head.c.tree_size)).scalar_one() == 5


def test_events_wait_while_the_platform_is_away_and_arrive_in_order(tmp_path: Path) -> None:
    from coordinator.governance_forwarding import GovernanceForwarder
    from errors import Unavailable

    log = one_log(tmp_path / "platform.db")
    intake = GovernanceIntake(log)
    intake.create_schema()
    outbox = GovernanceOutbox(open_engine(f"sqlite:///{tmp_path / 'coordinator.db'}"))
    outbox.create_schema()
    reachable = False

    def append(events):
        if not reachable:
            raise Unavailable("AppendGovernance: UNAVAILABLE")
        return intake.append(COORDINATOR, [IntakeItem(seq, leaf) for seq, leaf in events])

    forwarder = GovernanceForwarder(outbox, append, batch=2)
    for n in range(1, 6):
        with outbox.engine.begin() as conn:
            outbox.append(conn, approval_event(n))
    with pytest.raises(Unavailable):
        forwarder.flush()
    assert outbox.counts() == (5, 5) and log.tree_size() == 1
    reachable = True
    assert forwarder.flush() == 5 and outbox.counts() == (5, 0)
    for n in range(1, 6):
        entry = outbox.get(n)
        assert log.leaf(entry.leaf_index).leaf == approval_event(n).to_leaf() == entry.leaf
        assert entry.root == log.root(entry.tree_size) and entry.tree_size == entry.leaf_index + 1
