"""`xyd platform merge-governance-log`: the coordinator's former governance log folded into the platform's one log.

Until issue 18 the coordinator kept its own governance log (tables `governance_*` in `coordinator.db`, checkpoints
signed with `governance-log.pem`, origin `xyd/coordinator/main/governance-log`, witnessed by nobody): approvals,
catalogue versions, expansion requests and usage lines. Now the coordinator forwards those events to the platform,
whose one log takes them as leaves. With both stopped, this moves the old log so that every proof handed out stays
checkable:

1. the governance log's rows are verified whole (a tampered log is reported, not merged) and copied as they are
   into the platform's database as an archive (`archive_governance_*`: leaves, nodes, head, checkpoints), so the
   inclusion proofs and checkpoints the coordinator served (usage reports) still verify against it;
2. its leaves are appended to the one log byte for byte, in order, and a `log_merged` leaf commits the one log to
   the archive's final head (consent/audit/merge.py): from the next cosigned checkpoint on the witnesses vouch
   for it; the platform remembers them as the coordinator's events 1..n (so it takes event n + 1 next);
3. the coordinator's database gets its outbox with those events already forwarded (their places in the one log)
   and its usage lines re-keyed by event number, so usage reports come from the one log. The old tables stay,
   unused.
Steps 1-2 are one transaction on the platform's database, step 3 one on the coordinator's; run again after a
failure, the command completes what is missing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, func, select

from consent.audit import AuditLog, open_engine, verify_log_rows
from consent.audit.checkpoint import Checkpoint
from consent.audit.merge import MergedLog, fold, merged_logs
from consent.audit.note import parse_note
from consent.governance.outbox import GovernanceOutbox, outbox_events
from consent.governance.usage_lines import legacy_usage_lines, usage_lines, usage_metadata
from errors import ConfigurationError
from federation.config import NodeConfig
from platform_node.consent_registry.governance_intake import GovernanceIntake
from platform_node.log_merge import ACTOR, MergeRefused, _copy

log = logging.getLogger("xyd.platform.merge")

ARCHIVE_PREFIX = "archive_governance"
GOVERNANCE_PREFIX = "governance"
COORDINATOR = "coordinator/main"


@dataclass(frozen=True)
class GovernanceMergeReport:
    leaves: int
    merged: MergedLog
    outbox_events: int
    usage_lines: int


def merge_governance_log(config: NodeConfig, coordinator_db: Path, *, now: datetime) -> GovernanceMergeReport:
    """Merge the governance log of the coordinator's database file into the platform's one log (module doc)."""
    from platform_node.api.embedded import platform_database_url

    if not coordinator_db.exists():
        raise ConfigurationError(f"no coordinator database at {coordinator_db}")
    coordinator = open_engine(f"sqlite:///{coordinator_db}")
    platform = open_engine(platform_database_url(config))
    try:
        return merge_governance_databases(coordinator, platform, now=now)
    finally:
        coordinator.dispose()
        platform.dispose()


def merge_governance_databases(coordinator: Engine, platform: Engine, *, now: datetime,
                               sender: str = COORDINATOR) -> GovernanceMergeReport:
    """The governance log in `coordinator` into the one log in `platform` (module doc, steps 1-3)."""
    one = AuditLog(platform)
    one.create_schema()
    archive = AuditLog(platform, prefix=ARCHIVE_PREFIX)
    merged = next((m for m in merged_logs(one) if m.archive_prefix == ARCHIVE_PREFIX), None)
    if merged is None:
        merged = _fold_governance_log(coordinator, one, archive, now=now, sender=sender)
    leaves = [leaf.leaf for leaf in archive.leaves(0, merged.size)]
    events, lines = _adopt_at_coordinator(coordinator, leaves, first_index=merged.first_index, now=now)
    log.info("governance log merged", extra={"leaves": merged.size, "first_index": merged.first_index,
                                             "merge_leaf": merged.merge_leaf})
    return GovernanceMergeReport(merged.size, merged, events, lines)


def _fold_governance_log(coordinator: Engine, one: AuditLog, archive: AuditLog, *, now: datetime,
                         sender: str) -> MergedLog:
    with coordinator.connect() as conn:
        if not coordinator.dialect.has_table(conn, f"{GOVERNANCE_PREFIX}_head"):
            raise ConfigurationError("the coordinator's database has no governance log: nothing to merge")
    governance = AuditLog(coordinator, prefix=GOVERNANCE_PREFIX)
    # Whole before anything moves: every row, node and the head, and the roots of its own checkpoints.
    own = [Checkpoint.from_body(parse_note(note).text) for note in governance.checkpoints()]
    verify_log_rows(governance, own)
    intake = GovernanceIntake(one)
    intake.create_schema()
    platform = one.engine
    archive.tables.metadata.create_all(platform, tables=archive.tables.all)
    with platform.begin() as conn, coordinator.connect() as reading:
        if conn.execute(select(func.count()).select_from(archive.tables.leaf)).scalar_one():
            raise MergeRefused(f"{archive.tables.leaf.name} is not empty: a governance log was merged already")
        for name in ("head", "leaf", "node", "checkpoint"):
            _copy(reading, conn, getattr(governance.tables, name), getattr(archive.tables, name))
        merged = fold(conn, one, archive, actor=ACTOR, now=now)
        intake.adopt(conn, sender, [leaf.leaf for leaf in archive.leaves(0, merged.size, conn=conn)],
                     first_index=merged.first_index)
    return merged


def _adopt_at_coordinator(coordinator: Engine, leaves: list[bytes], *, first_index: int, now: datetime
                          ) -> tuple[int, int]:
    """The coordinator's outbox: the merged leaves as its events 1..n, already at their places in the one log;
    its usage lines keyed by those numbers (the old log's leaf i is event i + 1)."""
    outbox = GovernanceOutbox(coordinator)
    outbox.create_schema()
    usage_metadata.create_all(coordinator)
    with coordinator.begin() as conn:
        adopted = [bytes(leaf) for leaf in conn.execute(select(outbox_events.c.leaf).where(
            outbox_events.c.seq <= len(leaves)).order_by(outbox_events.c.seq)).scalars()]
        if adopted:
            if adopted != leaves:
                raise MergeRefused("the coordinator's outbox holds other events than the merged log")
            return 0, 0  # done by an earlier run
        outbox.adopt(conn, leaves, first_index=first_index, now=now)
        lines = 0
        if coordinator.dialect.has_table(conn, legacy_usage_lines.name):
            rows = conn.execute(select(legacy_usage_lines)).all()
            for row in rows:
                conn.execute(usage_lines.insert().values(event_seq=int(row.leaf_index) + 1, source=row.source,
                                                         day=row.day, line=row.line))
            lines = len(rows)
    return len(leaves), lines
